package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func props(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

func TestCheckFillsUpstreamDefaultsAndListsThem(t *testing.T) {
	in := props(map[string]any{
		"name":        "web",
		"image":       "sha256:abc",
		"restart":     "unless-stopped",
		"ports":       []any{map[string]any{"internal": 80, "external": 8080}},
		"healthcheck": map[string]any{"tests": []any{"NONE"}, "interval": "30s", "retries": 3},
		"labels":      []any{map[string]any{"label": "a", "value": "b"}},
	})
	got := containerSchema.applyDefaults(in).Mappable()
	wantTop := []any{"containerReadRefreshTimeoutMilliseconds", "mustRun", "networkMode", "removeVolumes",
		"start", "waitTimeout"} // restart was given
	if !reflect.DeepEqual(got["__defaults"], wantTop) {
		t.Fatalf("__defaults = %v, want %v", got["__defaults"], wantTop)
	}
	if got["networkMode"] != "bridge" || got["waitTimeout"] != float64(60) || got["mustRun"] != true {
		t.Fatalf("defaults not filled: %v", got)
	}
	port := got["ports"].([]any)[0].(map[string]any)
	if port["protocol"] != "tcp" || !reflect.DeepEqual(port["__defaults"], []any{"protocol"}) {
		t.Fatalf("ports[0] = %v", port)
	}
	hc := got["healthcheck"].(map[string]any)
	if !reflect.DeepEqual(hc["__defaults"], []any{"startInterval", "startPeriod", "timeout"}) || hc["timeout"] != "0s" {
		t.Fatalf("healthcheck = %v", hc)
	}
	if label := got["labels"].([]any)[0].(map[string]any); !reflect.DeepEqual(label["__defaults"], []any{}) {
		t.Fatalf("labels[0] = %v", label)
	}
}

func TestStateHasNoDefaultsListAndEveryNestedField(t *testing.T) {
	checked := containerSchema.applyDefaults(props(map[string]any{
		"networksAdvanced": []any{map[string]any{"name": "n", "aliases": []any{"app"}}},
		"volumes":          []any{map[string]any{"containerPath": "/x", "volumeName": "v"}},
	}))
	out := containerSchema.outputs(checked)
	if _, ok := out["__defaults"]; ok {
		t.Fatal("outputs carry __defaults")
	}
	net := out["networksAdvanced"].ArrayValue()[0].ObjectValue()
	if _, ok := net["__defaults"]; ok || !net["gwPriority"].IsNull() || net["ipv4Address"].StringValue() != "" {
		t.Fatalf("networksAdvanced[0] = %v", net)
	}
	vol := out["volumes"].ArrayValue()[0].ObjectValue()
	if !vol["readOnly"].IsNull() || vol["hostPath"].StringValue() != "" {
		t.Fatalf("volumes[0] = %v", vol)
	}
}

func TestPlanAgainstReadBack(t *testing.T) {
	declared := props(map[string]any{"startPeriod": "60s", "tests": []any{"CMD", "x"}, "__defaults": []any{}})
	readBack := props(map[string]any{"startPeriod": "1m0s", "tests": []any{"CMD", "x"}, "startInterval": ""})
	if tfEqual(resource.NewObjectProperty(declared), resource.NewObjectProperty(readBack), false) {
		t.Fatal(`"60s" declared, "1m0s" read back: must be a diff`)
	}
	readBack["startPeriod"] = resource.NewStringProperty("60s")
	if !tfEqual(resource.NewObjectProperty(declared), resource.NewObjectProperty(readBack), false) {
		t.Fatal("equal apart from zero-valued and bookkeeping fields: no diff")
	}
	a := resource.NewPropertyValue([]any{map[string]any{"label": "a"}, map[string]any{"label": "b"}})
	b := resource.NewPropertyValue([]any{map[string]any{"label": "b"}, map[string]any{"label": "a"}})
	if !tfEqual(a, b, true) || tfEqual(a, b, false) {
		t.Fatal("sets compare without order, lists with")
	}
	if got := (60 * time.Second).String(); got != "1m0s" {
		t.Fatalf("the engine's duration text is %q", got)
	}
}

func TestUnverifiedInputsAreNamed(t *testing.T) {
	bad := unverifiedInputs("docker:index/container:Container", props(map[string]any{
		"name": "x", "init": true, "privileged": false, "tmpfs": map[string]any{"/run": ""},
		"volumes":     []any{map[string]any{"containerPath": "/x", "hostPath": "/etc"}},
		"healthcheck": map[string]any{"tests": []any{"NONE"}, "startInterval": "1s"},
	}))
	want := []string{"healthcheck.startInterval", "privileged", "tmpfs", "volumes.hostPath"}
	if !reflect.DeepEqual(bad, want) {
		t.Fatalf("unverified = %v, want %v", bad, want)
	}
	img := unverifiedInputs("docker:index/image:Image", props(map[string]any{
		"imageName": "r/x:1", "skipPush": false, "buildOnPreview": true,
		"build": map[string]any{"context": ".", "network": "host"},
	}))
	if !reflect.DeepEqual(img, []string{"build.network", "buildOnPreview (other than false)"}) {
		t.Fatalf("image unverified = %v", img)
	}
}

func TestUpdateRecordsAnUnsetGwPriorityAsZero(t *testing.T) {
	state := containerSchema.outputs(containerSchema.applyDefaults(props(map[string]any{
		"name": "x", "image": "sha256:1",
		"networksAdvanced": []any{map[string]any{"name": "n", "aliases": []any{"app"}}},
	})))
	if !state["networksAdvanced"].ArrayValue()[0].ObjectValue()["gwPriority"].IsNull() {
		t.Fatalf("after create, gwPriority is null upstream")
	}
	got := zeroUnsetGwPriority(state)["networksAdvanced"].ArrayValue()[0].ObjectValue()["gwPriority"]
	if !got.IsNumber() || got.NumberValue() != 0 {
		t.Fatalf("after an update upstream records gwPriority 0, got %v", got)
	}
}

func TestUpdateRecordsAPlannedHealthcheckNotTheRunningOne(t *testing.T) {
	hc := func(interval string) map[string]any {
		return map[string]any{"tests": []any{"CMD", "true"}, "interval": interval, "timeout": "3s",
			"retries": 3, "startPeriod": "1s"}
	}
	news := containerSchema.applyDefaults(props(map[string]any{
		"name": "x", "image": "sha256:1", "healthcheck": hc("10s")}))
	// what the engine reads back: the container still runs its 2s check
	running := containerSchema.outputs(containerSchema.applyDefaults(props(map[string]any{
		"name": "x", "image": "sha256:1", "healthcheck": hc("2s")})))
	got := plannedNotApplied(running, news)["healthcheck"].ObjectValue()["interval"]
	if got.StringValue() != "10s" {
		t.Fatalf("after an update upstream records the planned healthcheck, got %v", got)
	}
	undeclared := containerSchema.applyDefaults(props(map[string]any{"name": "x", "image": "sha256:1"}))
	if kept := plannedNotApplied(running.Copy(), undeclared)["healthcheck"]; kept.IsNull() {
		t.Fatalf("an undeclared healthcheck keeps the read-back value")
	}
}
