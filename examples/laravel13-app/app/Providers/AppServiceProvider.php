<?php

namespace App\Providers;

use App\Listeners\RecordSchedulerStart;
use App\Support\BuildInfo;
use Illuminate\Console\Events\CommandStarting;
use Illuminate\Foundation\Events\DiagnosingHealth;
use Illuminate\Support\Facades\Event;
use Illuminate\Support\ServiceProvider;
use RuntimeException;

class AppServiceProvider extends ServiceProvider
{
    /**
     * Register any application services.
     */
    public function register(): void
    {
        //
    }

    /**
     * Bootstrap any application services.
     */
    public function boot(): void
    {
        // What the older apps' EventServiceProvider listed: `schedule:work` records a heartbeat
        // as soon as it starts, so a fresh scheduler container shows up at once instead of at
        // the next full minute. (Event discovery is off in bootstrap/app.php: the listener is
        // registered here only, once.)
        Event::listen(CommandStarting::class, RecordSchedulerStart::class);

        // Laravel's /up dispatches DiagnosingHealth; a listener that throws makes it answer 500
        // (and the exception is logged). The e2e's broken build: APP_CODE_VERSION=unhealthy.
        Event::listen(DiagnosingHealth::class, function (): void {
            if (BuildInfo::code() === 'unhealthy') {
                throw new RuntimeException('the health check of this build fails on purpose (APP_CODE_VERSION=unhealthy)');
            }
        });
    }
}
