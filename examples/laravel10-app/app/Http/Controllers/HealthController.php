<?php

namespace App\Http\Controllers;

use App\Support\BuildInfo;
use Illuminate\Http\JsonResponse;

class HealthController extends Controller
{
    /**
     * GET /up: liveness + proof of which build is being served.
     *
     * Deliberately independent of the database: it answers as long as PHP-FPM,
     * the framework and the (cached) configuration work.
     */
    public function __invoke(): JsonResponse
    {
        $opcache = function_exists('opcache_get_status') ? @opcache_get_status(false) : false;

        return response()->json([
            'status' => 'ok',
            'build' => BuildInfo::build(),
            'code' => BuildInfo::code(),
            'host' => BuildInfo::host(),
            'env' => config('app.env'),
            'config_cached' => app()->configurationIsCached(),
            'routes_cached' => app()->routesAreCached(),
            'opcache' => is_array($opcache) && ($opcache['opcache_enabled'] ?? false),
            'laravel' => app()->version(),
            'php' => PHP_VERSION,
        ]);
    }
}
