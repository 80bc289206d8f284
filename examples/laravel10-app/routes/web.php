<?php

use App\Http\Controllers\HomeController;
use App\Http\Controllers\StoresController;
use Illuminate\Support\Facades\Route;

/*
|--------------------------------------------------------------------------
| Web Routes
|--------------------------------------------------------------------------
|
| Loaded by the RouteServiceProvider within the "web" middleware group.
| Controllers only: closures would break `php artisan route:cache`.
|
*/

Route::get('/', HomeController::class)->name('home');

Route::get('/stores', StoresController::class)->name('stores');
