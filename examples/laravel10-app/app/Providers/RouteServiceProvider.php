<?php

namespace App\Providers;

use Illuminate\Foundation\Support\Providers\RouteServiceProvider as ServiceProvider;
use Illuminate\Support\Facades\Route;

class RouteServiceProvider extends ServiceProvider
{
    /**
     * The path to the "home" route for your application.
     *
     * @var string
     */
    public const HOME = '/';

    /**
     * Define your route model bindings, pattern filters, etc.
     *
     * Routes use controllers only (no closures), so `route:cache` works.
     *
     * @return void
     */
    public function boot()
    {
        $this->routes(function () {
            // The JSON probes (/up, /db, /queue, /heartbeat): stateless, no
            // prefix, no session (health checks hit /up every few seconds).
            Route::middleware('api')
                ->group(base_path('routes/api.php'));

            Route::middleware('web')
                ->group(base_path('routes/web.php'));
        });
    }
}
