<?php

namespace App\Http\Controllers;

use App\Models\Visit;
use App\Support\BuildInfo;
use Illuminate\Http\JsonResponse;

class VisitController extends Controller
{
    /**
     * GET /db: write one row, then report the count and the row written.
     */
    public function store(): JsonResponse
    {
        $visit = Visit::create([
            'build' => BuildInfo::build(),
            'code' => BuildInfo::code(),
            'host' => BuildInfo::host(),
        ]);

        return response()->json([
            'count' => Visit::count(),
            'last' => $visit->fresh(),
            'build' => BuildInfo::build(),
        ]);
    }

    /**
     * GET /db/count: read only.
     */
    public function count(): JsonResponse
    {
        return response()->json([
            'count' => Visit::count(),
            'last' => Visit::query()->latest('id')->first(),
            'build' => BuildInfo::build(),
        ]);
    }
}
