<?php

namespace App\Jobs;

use App\Models\JobRun;
use App\Support\BuildInfo;
use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;

/**
 * Records which build the queue WORKER that ran it had loaded, next to the
 * build of the web request that queued it.
 */
class RecordJobRun implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable, SerializesModels;

    public $tries = 3;

    public function __construct(
        public string $token,
        public ?string $requestedByBuild,
        public ?string $requestedByCode,
    ) {
    }

    public function handle(): void
    {
        JobRun::create([
            'token' => $this->token,
            'requested_by_build' => $this->requestedByBuild,
            'requested_by_code' => $this->requestedByCode,
            'worker_build' => BuildInfo::build(),
            'worker_code' => BuildInfo::code(),
            'worker_host' => BuildInfo::host(),
            'attempt' => $this->attempts(),
        ]);
    }
}
