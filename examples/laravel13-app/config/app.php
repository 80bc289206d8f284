<?php

/*
|--------------------------------------------------------------------------
| Application (Laravel 11+: only what this app changes)
|--------------------------------------------------------------------------
|
| Laravel merges this file over the framework's own config/app.php (APP_ENV,
| APP_DEBUG, APP_URL, APP_KEY, the timezone, ... keep their defaults there).
|
*/

return [

    'name' => env('APP_NAME', 'laravel-stack example'),

    /*
    |--------------------------------------------------------------------------
    | Deployed build
    |--------------------------------------------------------------------------
    |
    | The deploying program passes the image digest in APP_BUILD. Once
    | `php artisan config:cache` has run, the value is baked into
    | bootstrap/cache/config.php: a process reports the build of the config it
    | loaded, which is what the queue worker, the scheduler and the home page expose.
    |
    */

    'build' => env('APP_BUILD'),

];
