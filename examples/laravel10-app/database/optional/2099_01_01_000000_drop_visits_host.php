<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;

// A migration that destroys data (the e2e tests' build arg DROP_VISITS_HOST=1 adds it): what
// the release's backup is for. Its `down` cannot bring the hosts back.
return new class extends Migration
{
    public function up()
    {
        Schema::table('visits', function (Blueprint $table) {
            $table->dropColumn('host');
        });
    }

    public function down()
    {
        Schema::table('visits', function (Blueprint $table) {
            $table->string('host', 100)->default('');
        });
    }
};
