<?php

use Illuminate\Foundation\Application;
use Illuminate\Foundation\Configuration\Exceptions;
use Illuminate\Foundation\Configuration\Middleware;
use Illuminate\Http\Request;

return Application::configure(basePath: dirname(__DIR__))
    ->withRouting(
        web: __DIR__.'/../routes/web.php',
        // The JSON probes (/db, /queue, /heartbeat, /slow, /opcache): the "api" group is
        // stateless (no session, no cookies, no CSRF), and without a prefix their URLs are the
        // older apps' ones.
        api: __DIR__.'/../routes/api.php',
        apiPrefix: '',
        commands: __DIR__.'/../routes/console.php',
        // Laravel's own health route, kept as it is (session-free, outside maintenance mode).
        health: '/up',
    )
    ->withEvents(discover: false) // listeners are registered in AppServiceProvider
    ->withMiddleware(function (Middleware $middleware): void {
        // Behind the stack's web server / TLS edge: trust its X-Forwarded-* headers.
        $middleware->trustProxies(at: '*');
    })
    ->withExceptions(function (Exceptions $exceptions): void {
        // Everything but the HTML home page is a JSON API: render errors as JSON.
        $exceptions->shouldRenderJsonWhen(
            fn (Request $request, \Throwable $e) => ! $request->is('/') || $request->expectsJson()
        );
    })->create();
