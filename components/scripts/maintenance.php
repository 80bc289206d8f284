<?php
// laravel-stack: maintenance mode for a release (release.maintenance), run from the app root as
// the web user (the file the stack uploads into the app container):
//   php maintenance.php down RETRY   `artisan down` with the app's 503 page (errors::503,
//                                    prerendered), Retry-After: RETRY, and the bypass secret
//                                    from the container's env (LARAVEL_STACK_MAINTENANCE_SECRET:
//                                    never on a command line)
//   php maintenance.php up           `artisan up`
// storage/ is shared by every app container: the old build answers 503 too. `down` prints
// the secret's bypass URL: its output is never shown.
[, $mode, $retry] = array_pad($argv, 3, '');
define('LARAVEL_START', microtime(true));
require is_file('vendor/autoload.php') ? getcwd() . '/vendor/autoload.php' : getcwd() . '/bootstrap/autoload.php';
$app = require getcwd() . '/bootstrap/app.php';
$kernel = $app->make(Illuminate\Contracts\Console\Kernel::class);
if ($mode === 'down') {
    $secret = (string) getenv('LARAVEL_STACK_MAINTENANCE_SECRET');
    if ($secret === '') {
        fwrite(STDERR, "maintenance: LARAVEL_STACK_MAINTENANCE_SECRET is not set in the container\n");
        exit(2);
    }
    $status = $kernel->call('down', ['--retry' => $retry, '--secret' => $secret, '--render' => 'errors::503']);
    $done = "maintenance: down (the app's 503 page, Retry-After: $retry)";
} elseif ($mode === 'up') {
    $status = $kernel->call('up');
    $done = 'maintenance: up';
} else {
    fwrite(STDERR, "usage: maintenance.php down RETRY | up\n");
    exit(2);
}
if ($status !== 0) {
    fwrite(STDERR, "maintenance: artisan $mode failed (exit $status)\n");
    exit($status);
}
echo "$done\n";
