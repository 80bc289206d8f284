<?php

namespace App\Providers;

use App\Listeners\RecordSchedulerStart;
use Illuminate\Console\Events\CommandStarting;
use Illuminate\Foundation\Support\Providers\EventServiceProvider as ServiceProvider;

class EventServiceProvider extends ServiceProvider
{
    /**
     * The event listener mappings for the application (cached by `event:cache`).
     *
     * @var array<class-string, array<int, class-string>>
     */
    protected $listen = [
        CommandStarting::class => [
            RecordSchedulerStart::class,
        ],
    ];

    /**
     * Register any events for your application.
     *
     * @return void
     */
    public function boot()
    {
        //
    }

    /**
     * Determine if events and listeners should be automatically discovered.
     *
     * @return bool
     */
    public function shouldDiscoverEvents()
    {
        return false;
    }
}
