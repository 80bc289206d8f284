package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"laravel-stack/toolchain/internal/provider"
)

// The Diff the Pulumi engine sends for a dependent of a resource replaced delete-before-replace
// (calculateDependentReplacements): the inputs that depend on the replaced resource are unknown.
// Expected answers recorded on upstream (pulumi-docker v5.1.0, PULUMI_DEBUG_GRPC) for a container
// whose input depends on the `name` of a replaced container, with the state below:
//
//	envs, labels (Optional+Computed sets)    {"changes":"DIFF_NONE","hasDetailedDiff":true}
//	volumes, uploads (sets, not Computed),
//	command (Computed list), hostname, image {"replaces":[key],"deleteBeforeReplace":true,
//	                                          "changes":"DIFF_SOME","diffs":[key],
//	                                          "detailedDiff":{key:{"kind":"UPDATE_REPLACE"}}}
func TestDiffWithDependencyUnknownAsUpstream(t *testing.T) {
	inputs := map[string]any{
		"name": "lsprobe-b", "image": "sha256:6f7d", "restart": "no", "mustRun": true,
		"envs":    []any{"DB_HOST=lsprobe-a", "X=1"},
		"labels":  []any{map[string]any{"label": "db", "value": "lsprobe-a"}},
		"command": []any{"nginx", "-g", "daemon off;"},
		"volumes": []any{map[string]any{"containerPath": "/mnt/lsprobe-a", "volumeName": "lsprobe-vol"}},
		"uploads": []any{map[string]any{"file": "/tmp/lsprobe-a", "content": "x"}},
	}
	oldInputs := containerSchema.applyDefaults(props(inputs))
	state := containerSchema.outputs(oldInputs)
	state["envs"] = resource.MakeSecret(state["envs"]) // the program's envs are secret

	unknown := resource.MakeComputed(resource.NewStringProperty("<unknown>"))
	diff := func(t *testing.T, state resource.PropertyMap, key string) *pulumirpc.DiffResponse {
		t.Helper()
		news := oldInputs.Copy()
		news[resource.PropertyKey(key)] = unknown
		req := &pulumirpc.DiffRequest{
			Id:   "c0ffee",
			Urn:  "urn:pulumi:s::p::docker:index/container:Container::b",
			Type: "docker:index/container:Container",
		}
		var err error
		if req.Olds, err = marshalState(state, "olds"); err != nil {
			t.Fatal(err)
		}
		if req.OldInputs, err = provider.Marshal(oldInputs, "oldInputs"); err != nil {
			t.Fatal(err)
		}
		if req.News, err = provider.Marshal(news, "news"); err != nil {
			t.Fatal(err)
		}
		resp, err := (&dockerProvider{}).Diff(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	for _, key := range []string{"envs", "labels"} {
		resp := diff(t, state, key)
		if resp.Changes != pulumirpc.DiffResponse_DIFF_NONE || len(resp.Replaces) != 0 || len(resp.Diffs) != 0 ||
			len(resp.DetailedDiff) != 0 || resp.DeleteBeforeReplace {
			t.Errorf("%s unknown: got %v, upstream answers DIFF_NONE with no diffs", key, resp)
		}
	}
	for _, key := range []string{"command", "volumes", "uploads", "image"} {
		resp := diff(t, state, key)
		if resp.Changes != pulumirpc.DiffResponse_DIFF_SOME || !reflect.DeepEqual(resp.Replaces, []string{key}) ||
			!reflect.DeepEqual(resp.Diffs, []string{key}) || !resp.DeleteBeforeReplace ||
			resp.DetailedDiff[key].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE {
			t.Errorf("%s unknown: got %v, upstream replaces on %s", key, resp, key)
		}
	}

	// A Computed set whose state is empty: the computed count's Old is "", so the diff stays and
	// ForceNew replaces.
	empty := state.Copy()
	empty["labels"] = resource.NewArrayProperty(nil)
	if resp := diff(t, empty, "labels"); !reflect.DeepEqual(resp.Replaces, []string{"labels"}) {
		t.Errorf("labels unknown, empty in state: got %v, want a replacement", resp)
	}
}
