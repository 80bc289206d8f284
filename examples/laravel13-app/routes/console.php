<?php

use Illuminate\Foundation\Inspiring;
use Illuminate\Support\Facades\Artisan;
use Illuminate\Support\Facades\Schedule;

Artisan::command('inspire', function () {
    $this->comment(Inspiring::quote());
})->purpose('Display an inspiring quote');

// Run the scheduler with `php artisan schedule:work` (one schedule:run per minute); the
// scheduler's start itself is recorded too (App\Listeners\RecordSchedulerStart).
Schedule::command('app:heartbeat')->everyMinute();
