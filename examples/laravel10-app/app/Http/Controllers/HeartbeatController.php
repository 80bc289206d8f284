<?php

namespace App\Http\Controllers;

use App\Models\Heartbeat;
use Illuminate\Http\JsonResponse;
use Illuminate\Support\Carbon;

class HeartbeatController extends Controller
{
    /**
     * GET /heartbeat: the scheduler's last sign of life.
     */
    public function __invoke(): JsonResponse
    {
        $last = Heartbeat::query()->latest('id')->first();

        return response()->json([
            'count' => Heartbeat::count(),
            'last' => $last,
            'age_seconds' => $last ? Carbon::now()->diffInSeconds($last->created_at) : null,
        ]);
    }
}
