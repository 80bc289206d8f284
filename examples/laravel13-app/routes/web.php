<?php

use App\Http\Controllers\HomeController;
use App\Http\Controllers\StoresController;
use Illuminate\Support\Facades\Route;

/*
|--------------------------------------------------------------------------
| Web Routes (the "web" middleware group: session, cookies, CSRF)
|--------------------------------------------------------------------------
|
| Controllers only, as in the older apps (shared with examples/laravel10-app).
|
*/

Route::get('/', HomeController::class)->name('home');

Route::get('/stores', StoresController::class)->name('stores');
