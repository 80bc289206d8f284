<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;

return new class extends Migration
{
    public function up()
    {
        Schema::create('heartbeats', function (Blueprint $table) {
            $table->id();
            $table->string('source', 50);
            $table->string('build')->nullable();
            $table->string('code', 100);
            $table->string('host', 100);
            $table->timestamps();
        });
    }

    public function down()
    {
        Schema::dropIfExists('heartbeats');
    }
};
