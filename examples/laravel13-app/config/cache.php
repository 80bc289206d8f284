<?php

/*
|--------------------------------------------------------------------------
| Default Cache Store (Laravel 11+: merged over the framework's config/cache.php)
|--------------------------------------------------------------------------
|
| Laravel 11+ reads CACHE_STORE (default "database"); Laravel 10 read
| CACHE_DRIVER. This app reads both, CACHE_STORE first, and keeps the older
| apps' default "file" (storage/framework/cache/data). Note that
| `php artisan queue:restart` signals workers through this store: with "file"
| the app and worker containers must share the storage volume.
|
*/

return [

    'default' => env('CACHE_STORE', env('CACHE_DRIVER', 'file')),

];
