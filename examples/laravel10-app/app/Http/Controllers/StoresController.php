<?php

namespace App\Http\Controllers;

use App\Support\BuildInfo;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Cache;

class StoresController extends Controller
{
    /**
     * GET /stores (web group: it has a session): where cache, session and queue live. Writes a
     * cache entry and keeps the session, so their keys can be looked for in the store itself.
     */
    public function __invoke(Request $request): JsonResponse
    {
        Cache::put('laravel-stack:probe', BuildInfo::build(), 300);
        $request->session()->put('laravel-stack.seen', BuildInfo::build());

        return response()->json([
            'cache' => config('cache.default'),
            'cache_value' => Cache::get('laravel-stack:probe'),
            'session' => config('session.driver'),
            'session_id' => $request->session()->getId(),
            'queue' => config('queue.default'),
        ]);
    }
}
