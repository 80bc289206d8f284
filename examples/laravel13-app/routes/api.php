<?php

use App\Http\Controllers\HeartbeatController;
use App\Http\Controllers\QueueController;
use App\Http\Controllers\RuntimeController;
use App\Http\Controllers\SlowController;
use App\Http\Controllers\VisitController;
use Illuminate\Support\Facades\Route;

/*
|--------------------------------------------------------------------------
| JSON probe routes (the stateless "api" group, mapped without a prefix)
|--------------------------------------------------------------------------
|
| The older apps' probes, minus /up: on Laravel 11+ that is the framework's own
| health route (`health: '/up'` in bootstrap/app.php), so /opcache also names
| the framework's and the code's version (RuntimeController).
|
*/

Route::get('/db', [VisitController::class, 'store'])->name('db.write');
Route::get('/db/count', [VisitController::class, 'count'])->name('db.count');

Route::get('/queue', [QueueController::class, 'push'])->name('queue.dispatch');
Route::get('/queue/runs', [QueueController::class, 'runs'])->name('queue.runs');

Route::get('/heartbeat', HeartbeatController::class)->name('heartbeat');

Route::get('/slow', SlowController::class)->name('slow');

Route::get('/opcache', RuntimeController::class)->name('opcache');
