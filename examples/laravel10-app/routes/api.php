<?php

use App\Http\Controllers\HealthController;
use App\Http\Controllers\HeartbeatController;
use App\Http\Controllers\OpcacheController;
use App\Http\Controllers\QueueController;
use App\Http\Controllers\SlowController;
use App\Http\Controllers\VisitController;
use Illuminate\Support\Facades\Route;

/*
|--------------------------------------------------------------------------
| JSON probe routes (stateless, mapped without a prefix)
|--------------------------------------------------------------------------
|
| Controllers only: closures would break `php artisan route:cache`.
|
*/

Route::get('/up', HealthController::class)->name('health');

Route::get('/db', [VisitController::class, 'store'])->name('db.write');
Route::get('/db/count', [VisitController::class, 'count'])->name('db.count');

Route::get('/queue', [QueueController::class, 'push'])->name('queue.dispatch');
Route::get('/queue/runs', [QueueController::class, 'runs'])->name('queue.runs');

Route::get('/heartbeat', HeartbeatController::class)->name('heartbeat');

Route::get('/slow', SlowController::class)->name('slow');

Route::get('/opcache', OpcacheController::class)->name('opcache');
