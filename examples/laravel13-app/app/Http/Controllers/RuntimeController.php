<?php

namespace App\Http\Controllers;

use App\Support\BuildInfo;
use Illuminate\Http\JsonResponse;

/**
 * GET /opcache on Laravel 13: the shared OpcacheController's report (what OPcache and its JIT
 * do in the FPM worker that answers) plus the framework's version and the code version, since
 * this app's /up is Laravel's own health page, which names neither.
 */
class RuntimeController extends OpcacheController
{
    public function __invoke(): JsonResponse
    {
        return response()->json(parent::__invoke()->getData(true) + [
            'laravel' => app()->version(),
            'code' => BuildInfo::code(),
        ]);
    }
}
