<?php

namespace App\Http\Controllers;

use App\Jobs\RecordJobRun;
use App\Models\JobRun;
use App\Support\BuildInfo;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Support\Str;

class QueueController extends Controller
{
    /**
     * GET /queue[?delay=N]: push a job; the queue worker that runs it records its own build.
     * A delayed job waits in the queue's store (visible there) until it is due.
     */
    public function push(Request $request): JsonResponse
    {
        $token = (string) Str::uuid();

        $job = RecordJobRun::dispatch($token, BuildInfo::build(), BuildInfo::code());
        $delay = (int) $request->query('delay', 0);
        if ($delay > 0) {
            $job->delay(now()->addSeconds(min($delay, 3600)));
        }

        return response()->json([
            'dispatched' => true,
            'token' => $token,
            'requested_by_build' => BuildInfo::build(),
            'requested_by_code' => BuildInfo::code(),
            'queue' => config('queue.default'),
        ], 202);
    }

    /**
     * GET /queue/runs: what the workers recorded, newest first.
     */
    public function runs(): JsonResponse
    {
        return response()->json([
            'count' => JobRun::count(),
            'runs' => JobRun::query()->latest('id')->limit(20)->get(),
            'pending' => (int) app('db')->table(config('queue.connections.database.table', 'jobs'))->count(),
            'failed' => (int) app('db')->table(config('queue.failed.table', 'failed_jobs'))->count(),
        ]);
    }
}
