package main

import (
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- Service: plan --------------------------------------------------------------------------

// serviceComputed: the Optional+Computed fields: left unset, they take the state's value.
var serviceComputed = map[string]bool{
	"labels": true, "mode": true, "mode.replicated": true, "endpointSpec": true, "endpointSpec.mode": true,
	"taskSpec.containerSpec": true, "taskSpec.forceUpdate": true, "taskSpec.placement": true,
	"taskSpec.resources": true, "taskSpec.restartPolicy": true, "taskSpec.runtime": true,
	"taskSpec.containerSpec.dnsConfig": true, "taskSpec.containerSpec.healthcheck": true,
	"taskSpec.containerSpec.init": true, "taskSpec.containerSpec.stopGracePeriod": true,
}

// serviceForceNew: a change under these paths replaces the service (Terraform ForceNew).
var serviceForceNew = []string{"name", "auth", "taskSpec.networksAdvanceds", "taskSpec.containerSpec.labels",
	"taskSpec.containerSpec.hosts", "taskSpec.containerSpec.sysctl"}

// orderedLists are Terraform lists (order matters); the other lists of objects are sets.
var orderedLists = map[string]bool{"endpointSpec.ports": true}

// planChanges: the paths where the declared inputs differ from the state as Terraform plans
// them (an unset Computed field keeps the state's value; an unset Optional one must be zero).
func planChanges(decl, state resource.PropertyValue, path string, out *[]string) {
	decl, state = unsecret(decl), unsecret(state)
	if decl.ContainsUnknowns() {
		*out = append(*out, path)
		return
	}
	if decl.IsNull() {
		if !serviceComputed[path] && canonical(state, true) != "null" {
			*out = append(*out, path)
		}
		return
	}
	if decl.IsObject() && (state.IsObject() || state.IsNull()) && !isMapField(path) {
		sm := objOrNil(state)
		keys := map[resource.PropertyKey]bool{}
		for k := range decl.ObjectValue() {
			keys[k] = true
		}
		for k := range sm {
			keys[k] = true
		}
		for k := range keys {
			if k == defaultsKey {
				continue
			}
			p := string(k)
			if path != "" {
				p = path + "." + p
			}
			planChanges(decl.ObjectValue()[k], sm[k], p, out)
		}
		return
	}
	if decl.IsArray() && state.IsArray() && orderedLists[path] {
		// ports: swarm's published port is Computed when not declared.
		if len(decl.ArrayValue()) != len(state.ArrayValue()) {
			*out = append(*out, path)
			return
		}
		for i, d := range decl.ArrayValue() {
			s := state.ArrayValue()[i]
			if d.IsObject() && s.IsObject() {
				if _, ok := d.ObjectValue()["publishedPort"]; !ok {
					sc := s.ObjectValue().Copy()
					delete(sc, "publishedPort")
					s = resource.NewObjectProperty(sc)
				}
			}
			if canonical(d, true) != canonical(s, true) {
				*out = append(*out, path)
				return
			}
		}
		return
	}
	if canonical(decl, true) != canonical(state, true) {
		*out = append(*out, path)
	}
}

func isMapField(path string) bool {
	switch path {
	case "taskSpec.containerSpec.env", "taskSpec.containerSpec.sysctl":
		return true
	}
	return strings.HasSuffix(path, ".driverOptions")
}

// diff: the plan of the new inputs against the state: top-level keys changed, and which of them
// replace (a change under a ForceNew path).
func (serviceKind) diff(news, state resource.PropertyMap) (diffs, replaces []string) {
	for _, key := range (serviceKind{}).supported() {
		var paths []string
		planChanges(news[resource.PropertyKey(key)], state[resource.PropertyKey(key)], key, &paths)
		if len(paths) == 0 {
			continue
		}
		diffs = append(diffs, key)
		for _, p := range paths {
			if forceNew(p) {
				replaces = append(replaces, key)
				break
			}
		}
	}
	// Upstream's plan of any change also lists taskSpec (its detailed diff always adds
	// taskSpec.containerSpec.sysctl, a null map planned as an empty one).
	if len(diffs) > 0 && !contains(diffs, "taskSpec") {
		diffs = append(diffs, "taskSpec")
		sort.Strings(diffs)
	}
	return diffs, replaces
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

func forceNew(path string) bool {
	for _, f := range serviceForceNew {
		if path == f || strings.HasPrefix(path, f+".") {
			return true
		}
	}
	return false
}
