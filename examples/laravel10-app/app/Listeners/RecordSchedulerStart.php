<?php

namespace App\Listeners;

use App\Models\Heartbeat;
use App\Support\BuildInfo;
use Illuminate\Console\Events\CommandStarting;
use Illuminate\Support\Facades\Log;
use Throwable;

/**
 * Writes a heartbeat when `schedule:work` starts, so that a freshly started
 * scheduler is visible at once (the every-minute task only fires at :00).
 */
class RecordSchedulerStart
{
    public function handle(CommandStarting $event): void
    {
        if ($event->command !== 'schedule:work') {
            return;
        }

        try {
            Heartbeat::create([
                'source' => 'schedule:work-start',
                'build' => BuildInfo::build(),
                'code' => BuildInfo::code(),
                'host' => BuildInfo::host(),
            ]);
        } catch (Throwable $e) {
            // Not migrated yet, database not reachable yet...: the scheduler
            // itself must still start.
            Log::warning('scheduler start heartbeat not recorded: '.$e->getMessage());
        }
    }
}
