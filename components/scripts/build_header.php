<?php
// laravel-stack's build proof (health.build_from: header), PHP's auto_prepend_file in the app
// container (the stack's php.ini). On the health path only, the FPM worker that answers names
// the build it serves in a response header: `config('app.build')` as this worker holds it, read
// after the app handled the request, so from the config cache and the OPcache that served it (a
// stale one names the previous build). The app keeps its own route (Laravel 11+: the built-in
// `health: '/up'`) and needs only `'build' => env('APP_BUILD')` in config/app.php. Anything else
// (the CLI, other paths, an app that failed before its container existed) is left untouched.
(static function (): void {
    if (PHP_SAPI !== 'fpm-fcgi') {
        return;
    }
    $path = get_cfg_var('laravel_stack.health_path');
    $uri = (string) ($_SERVER['REQUEST_URI'] ?? '');
    if (!is_string($path) || $path === '' || strtok($uri, '?') !== $path) {
        return;
    }
    header_register_callback(static function (): void {
        $container = 'Illuminate\Container\Container';
        if (!class_exists($container, false)) {
            return;
        }
        try {
            $build = $container::getInstance()->make('config')->get('app.build');
        } catch (Throwable $e) {
            return;
        }
        // No build (a config cached without APP_BUILD): no header, and the check says so.
        if (is_string($build) && $build !== '') {
            header('X-Laravel-Stack-Build: ' . str_replace(["\r", "\n"], '', $build));
        }
    });
})();
