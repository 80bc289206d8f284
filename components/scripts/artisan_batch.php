<?php
// laravel-stack: several artisan commands in one PHP boot (what Laravel 11's `optimize` does),
// run from the app root as `php artisan_batch.php COMMAND...` (the file the stack uploads into
// the app container); stops at the first failure.
// The autoloader `artisan` loads: Composer's, or (the example app, on Debian's packaged
// framework) bootstrap/autoload.php.
define('LARAVEL_START', microtime(true));
require is_file('vendor/autoload.php') ? getcwd() . '/vendor/autoload.php' : getcwd() . '/bootstrap/autoload.php';
$app = require getcwd() . '/bootstrap/app.php';
$kernel = $app->make(Illuminate\Contracts\Console\Kernel::class);
foreach (array_slice($argv, 1) as $command) {
    $status = $kernel->call($command);
    echo $kernel->output();
    if ($status !== 0) {
        fwrite(STDERR, "artisan $command failed (exit $status)\n");
        exit($status);
    }
}
