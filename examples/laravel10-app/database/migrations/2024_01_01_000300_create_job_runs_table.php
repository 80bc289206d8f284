<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;

return new class extends Migration
{
    public function up()
    {
        Schema::create('job_runs', function (Blueprint $table) {
            $table->id();
            $table->uuid('token')->index();
            $table->string('requested_by_build')->nullable();
            $table->string('requested_by_code', 100)->nullable();
            $table->string('worker_build')->nullable();
            $table->string('worker_code', 100);
            $table->string('worker_host', 100);
            $table->unsignedInteger('attempt')->default(1);
            $table->timestamps();
        });
    }

    public function down()
    {
        Schema::dropIfExists('job_runs');
    }
};
