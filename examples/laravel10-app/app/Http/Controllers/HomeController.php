<?php

namespace App\Http\Controllers;

use App\Support\BuildInfo;

class HomeController extends Controller
{
    /**
     * GET /: a small HTML page (exercises Blade, view:cache and the web group).
     */
    public function __invoke()
    {
        return view('welcome', BuildInfo::toArray());
    }
}
