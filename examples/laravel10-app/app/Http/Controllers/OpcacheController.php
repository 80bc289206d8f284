<?php

namespace App\Http\Controllers;

use Illuminate\Http\JsonResponse;

class OpcacheController extends Controller
{
    /**
     * GET /opcache: what OPcache and its JIT do in the process that answers (an FPM worker),
     * not what a CLI `php -i` would say.
     */
    public function __invoke(): JsonResponse
    {
        $status = function_exists('opcache_get_status') ? @opcache_get_status(false) : false;
        $jit = is_array($status) ? ($status['jit'] ?? []) : [];

        return response()->json([
            'sapi' => PHP_SAPI,
            'php' => PHP_VERSION,
            'enabled' => is_array($status) && ($status['opcache_enabled'] ?? false),
            'validate_timestamps' => ini_get('opcache.validate_timestamps'),
            'jit' => [
                'mode' => ini_get('opcache.jit'),
                'enabled' => (bool) ($jit['enabled'] ?? false),
                'on' => (bool) ($jit['on'] ?? false),
                'buffer_size' => (int) ($jit['buffer_size'] ?? 0),
            ],
            'build' => \App\Support\BuildInfo::build(),
        ]);
    }
}
