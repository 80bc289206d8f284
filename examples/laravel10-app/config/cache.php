<?php

use Illuminate\Support\Str;

return [

    /*
    |--------------------------------------------------------------------------
    | Default Cache Store
    |--------------------------------------------------------------------------
    |
    | "file" keeps its entries under storage/framework/cache/data. Note that
    | `php artisan queue:restart` signals workers through this store: with
    | "file" the app and worker containers must share the storage volume, with
    | CACHE_DRIVER=database (table from the cache migration) they need not.
    |
    */

    'default' => env('CACHE_DRIVER', 'file'),

    'stores' => [

        // Redis when the stack runs one (CACHE_DRIVER=redis): shared by every container.
        'redis' => [
            'driver' => 'redis',
            'connection' => 'cache',
        ],

        'array' => [
            'driver' => 'array',
            'serialize' => false,
        ],

        'database' => [
            'driver' => 'database',
            'table' => 'cache',
            'connection' => null,
            'lock_connection' => null,
        ],

        'file' => [
            'driver' => 'file',
            'path' => storage_path('framework/cache/data'),
        ],

    ],

    'prefix' => env('CACHE_PREFIX', Str::slug(env('APP_NAME', 'laravel'), '_').'_cache'),

];
