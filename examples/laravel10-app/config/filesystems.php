<?php

return [

    'default' => env('FILESYSTEM_DRIVER', 'local'),

    'disks' => [

        'local' => [
            'driver' => 'local',
            'root' => storage_path('app'),
        ],

        'public' => [
            'driver' => 'local',
            'root' => storage_path('app/public'),
            'url' => env('APP_URL').'/storage',
            'visibility' => 'public',
        ],

    ],

    /*
    |--------------------------------------------------------------------------
    | Symbolic Links (php artisan storage:link)
    |--------------------------------------------------------------------------
    |
    | Created relative (public/storage -> ../storage/app/public) by
    | `php artisan storage:link --relative` or by the image build, so that
    | the link also resolves inside the nginx container.
    |
    */

    'links' => [
        public_path('storage') => storage_path('app/public'),
    ],

];
