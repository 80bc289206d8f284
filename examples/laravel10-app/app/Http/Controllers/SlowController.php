<?php

namespace App\Http\Controllers;

use App\Support\BuildInfo;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;

class SlowController extends Controller
{
    /**
     * GET /slow?ms=N: an in-flight request of N milliseconds (at most 15000),
     * to check that graceful reloads / rollouts let running requests finish.
     * Reports the build at the start and at the end of the request.
     */
    public function __invoke(Request $request): JsonResponse
    {
        $ms = max(0, min(15000, (int) $request->query('ms', 1000)));
        $startedBuild = BuildInfo::build();
        $started = microtime(true);

        // Signals (e.g. FPM's SIGQUIT to its children on a graceful reload)
        // cut usleep() short: sleep until the deadline.
        $deadline = $started + $ms / 1000;
        while (($left = $deadline - microtime(true)) > 0) {
            usleep((int) ceil($left * 1000000));
        }

        return response()->json([
            'status' => 'ok',
            'slept_ms' => $ms,
            'elapsed_ms' => (int) round((microtime(true) - $started) * 1000),
            'build' => $startedBuild,
            'code' => BuildInfo::code(),
            'host' => BuildInfo::host(),
            'pid' => getmypid(),
        ]);
    }
}
