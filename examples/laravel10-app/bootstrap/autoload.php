<?php

/*
|--------------------------------------------------------------------------
| Autoloading without composer
|--------------------------------------------------------------------------
|
| Laravel 10.48 and its dependencies come from Debian's php-laravel-framework
| package, whose autoloader lives in /usr/share/php (on PHP's include_path).
| The application's own classes are loaded by a tiny PSR-4 loader that follows
| the "autoload" section of composer.json.
|
*/

require_once '/usr/share/php/Illuminate/autoload.php';

// Optional: symfony/filesystem (Debian: php-symfony-filesystem) enables
// `php artisan storage:link --relative`.
if (is_file('/usr/share/php/Symfony/Component/Filesystem/autoload.php')) {
    require_once '/usr/share/php/Symfony/Component/Filesystem/autoload.php';
}

spl_autoload_register(static function (string $class): void {
    static $prefixes = null;

    if ($prefixes === null) {
        $base = dirname(__DIR__);
        $prefixes = [
            'App\\' => $base.'/app/',
            'Database\\Factories\\' => $base.'/database/factories/',
            'Database\\Seeders\\' => $base.'/database/seeders/',
        ];
    }

    foreach ($prefixes as $prefix => $dir) {
        if (strncmp($class, $prefix, strlen($prefix)) === 0) {
            $file = $dir.str_replace('\\', '/', substr($class, strlen($prefix))).'.php';
            if (is_file($file)) {
                require $file;
            }

            return;
        }
    }
});
