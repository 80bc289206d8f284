package main

// What upstream's Terraform bridge records in the outputs of a bridged resource beyond the values
// the provider sets (recorded from upstream: `pulumi stack export` of the e2e stacks, compared
// field by field by the e2e vectors):
//
//   - `id`: the Terraform id (a container's or network's id, a volume's name, a RemoteImage's
//     image id followed by its name);
//   - every attribute of the schema, with the value the Terraform state holds when the provider
//     never sets it (null, [], false, 0: `zero`);
//   - `__meta`: the schema version and the resource's timeouts, as the bridge writes them;
//   - `__pulumi_raw_state_delta`: how the Terraform state differs in shape from these outputs,
//     so the bridge can rebuild it exactly: each list attribute ({"arr": …}, with {"el": {i:
//     {"obj": …}}} for object elements), each map ({"map": {}}), each block of at most one
//     element flattened into an object ({"plu": {"i": …}}), and the attributes Pulumi renames.

import (
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// timeouts of 20 minutes (create, delete, update), as the bridge writes them into `__meta`.
const tfTimeouts = `"e2bfb730-ecaa-11e6-8f88-34363bc7c4c0":{"create":1200000000000,"delete":1200000000000,"update":1200000000000}`

type tfShape struct {
	meta  string
	zero  map[string]resource.PropertyValue
	delta *deltaSpec
	// after a refresh: attributes Read sets to an empty list or map, nested fields read as zero
	readEmpty  map[string]resource.PropertyValue
	readNested map[string]map[string]resource.PropertyValue
}

// deltaSpec: the shape of one object of the Terraform state.
type deltaSpec struct {
	lists   map[string]*deltaSpec // list/set attributes: the spec of their object elements (nil: scalars)
	maps    []string
	blocks  map[string]blockDelta // blocks of at most one element, flattened into an object
	renamed map[string]string     // Pulumi name -> Terraform name
}

type blockDelta struct {
	spec *deltaSpec
	// recorded even when null ({"plu": {"i": {}}}): an Optional block, not a Computed one; a
	// Computed one only once read (a refresh)
	null bool
}

// finish adds what the bridge records to the provider's outputs (not in a preview: those are
// the engine's unknowns). `read`: the outputs of a refresh, where the Terraform state is what the
// provider's Read set (read(), below), not what the plan made of the inputs.
func (s *tfShape) finish(id string, outs resource.PropertyMap, read bool) resource.PropertyMap {
	out := outs.Copy()
	for k, z := range s.zero {
		if _, ok := out[resource.PropertyKey(k)]; !ok {
			out[resource.PropertyKey(k)] = z
		}
	}
	out["id"] = str(id)
	if s.meta != "" { // schema version 0 and no timeouts: none
		out["__meta"] = str(s.meta)
	}
	if read {
		s.read(out)
	}
	out["__pulumi_raw_state_delta"] = resource.NewObjectProperty(
		resource.NewPropertyMapFromMap(map[string]any{"obj": s.delta.object(out, read)}))
	return out
}

// read: what upstream's refresh records where its create recorded null (recorded: the vector
// "state after a refresh of a stopped app container"): the empty lists and maps its Read sets,
// and the zero values Terraform reads back for unset nested fields.
func (s *tfShape) read(out resource.PropertyMap) {
	for k, v := range s.readEmpty {
		if cur, ok := out[resource.PropertyKey(k)]; !ok || cur.IsNull() {
			out[resource.PropertyKey(k)] = v
		}
	}
	for k, zeros := range s.readNested {
		out[resource.PropertyKey(k)] = mapObjects(out[resource.PropertyKey(k)], func(o resource.PropertyMap) resource.PropertyMap {
			o = o.Copy()
			for f, z := range zeros {
				if cur, ok := o[resource.PropertyKey(f)]; !ok || cur.IsNull() {
					o[resource.PropertyKey(f)] = z
				}
			}
			return o
		})
	}
}

// refreshedInputs: as the bridge's refresh extracts inputs from the outputs: a `__defaults`
// that lists nothing is dropped (at every level), and a filled-in default whose value the
// refresh changed (mustRun of a stopped container) is no longer listed as one.
func refreshedInputs(old, inputs resource.PropertyMap) resource.PropertyMap {
	out := inputs.Copy()
	if d, ok := out[defaultsKey]; ok && d.IsArray() {
		var kept []resource.PropertyValue
		for _, k := range d.ArrayValue() {
			key := resource.PropertyKey(k.StringValue())
			if old[key].DeepEquals(out[key]) {
				kept = append(kept, k)
			}
		}
		if len(kept) == 0 {
			delete(out, defaultsKey)
		} else {
			out[defaultsKey] = resource.NewArrayProperty(kept)
		}
	}
	for k, v := range out {
		if k == defaultsKey {
			continue
		}
		out[k] = mapObjects(v, func(o resource.PropertyMap) resource.PropertyMap {
			return refreshedInputs(o, o)
		})
	}
	return out
}

func unsecret(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() {
		return v.SecretValue().Element
	}
	return v
}

func (s *deltaSpec) object(m resource.PropertyMap, read bool) map[string]any {
	ps := map[string]any{}
	for k, elem := range s.lists {
		v := unsecret(m[resource.PropertyKey(k)])
		if !v.IsArray() {
			continue
		}
		arr := map[string]any{}
		if elem != nil {
			el := map[string]any{}
			for i, e := range v.ArrayValue() {
				if e = unsecret(e); e.IsObject() {
					el[strconv.Itoa(i)] = map[string]any{"obj": elem.object(e.ObjectValue(), read)}
				}
			}
			if len(el) > 0 {
				arr["el"] = el
			}
		}
		ps[k] = map[string]any{"arr": arr}
	}
	for _, k := range s.maps {
		if unsecret(m[resource.PropertyKey(k)]).IsObject() {
			ps[k] = map[string]any{"map": map[string]any{}}
		}
	}
	for k, b := range s.blocks {
		switch v := unsecret(m[resource.PropertyKey(k)]); {
		case v.IsObject():
			ps[k] = map[string]any{"plu": map[string]any{"i": map[string]any{"obj": b.spec.object(v.ObjectValue(), read)}}}
		case b.null || read:
			ps[k] = map[string]any{"plu": map[string]any{"i": map[string]any{}}}
		}
	}
	out := map[string]any{}
	if len(ps) > 0 {
		out["ps"] = ps
	}
	if len(s.renamed) > 0 {
		renamed := map[string]any{}
		for k, v := range s.renamed {
			renamed[k] = v
		}
		out["renamed"] = renamed
	}
	return out
}

var objectElem = &deltaSpec{}

func emptyMap() resource.PropertyValue { return resource.NewObjectProperty(resource.PropertyMap{}) }

var containerShape = &tfShape{
	meta: `{` + tfTimeouts + `,"schema_version":"2"}`,
	zero: map[string]resource.PropertyValue{
		"attach": boolean(false), "logs": boolean(false), "capabilities": null(), "cgroupParent": null(),
		"cgroupnsMode": null(), "containerLogs": null(), "cpuPeriod": null(), "cpuQuota": null(),
		"cpus": null(), "gpus": null(), "pidMode": null(), "healthcheck": null(), "wait": boolean(false),
		"deviceReadBps": emptyList(), "deviceReadIops": emptyList(), "deviceWriteBps": emptyList(),
		"deviceWriteIops": emptyList(), "deviceRequests": emptyList(), "devices": emptyList(),
		"mounts": emptyList(), "ports": emptyList(), "ulimits": emptyList(), "uploads": emptyList(),
		"envs": emptyList(),
	},
	delta: &deltaSpec{
		lists: map[string]*deltaSpec{
			"command": nil, "entrypoints": nil, "envs": nil, "securityOpts": nil, "dns": nil,
			"dnsOpts": nil, "dnsSearches": nil, "groupAdds": nil,
			"deviceReadBps": objectElem, "deviceReadIops": objectElem, "deviceWriteBps": objectElem,
			"deviceWriteIops": objectElem, "deviceRequests": objectElem, "devices": objectElem,
			"hosts": objectElem, "labels": objectElem, "mounts": objectElem, "networkDatas": objectElem,
			"ports": objectElem, "ulimits": objectElem, "uploads": objectElem, "volumes": objectElem,
			"networksAdvanced": {lists: map[string]*deltaSpec{"aliases": nil, "driverOpts": nil, "linkLocalIps": nil}},
		},
		maps: []string{"logOpts", "sysctls", "tmpfs", "storageOpts"},
		blocks: map[string]blockDelta{
			"capabilities": {spec: &deltaSpec{lists: map[string]*deltaSpec{"adds": nil, "drops": nil}}, null: true},
			"healthcheck": {spec: &deltaSpec{lists: map[string]*deltaSpec{"tests": nil},
				renamed: map[string]string{"tests": "test"}}},
		},
		renamed: map[string]string{
			"dnsSearches": "dns_search", "entrypoints": "entrypoint", "envs": "env", "groupAdds": "group_add",
			"hosts": "host", "networkDatas": "network_data", "ulimits": "ulimit", "uploads": "upload",
		},
	},
	readEmpty: map[string]resource.PropertyValue{
		"dns": emptyList(), "dnsOpts": emptyList(), "dnsSearches": emptyList(), "groupAdds": emptyList(),
		"logOpts": emptyMap(), "storageOpts": emptyMap(), "sysctls": emptyMap(), "tmpfs": emptyMap(),
	},
	readNested: map[string]map[string]resource.PropertyValue{
		"networksAdvanced": {"gwPriority": num(0)},
		"volumes":          {"readOnly": boolean(false)},
	},
}

var networkShape = &tfShape{
	meta:      `{"schema_version":"1"}`,
	zero:      map[string]resource.PropertyValue{"labels": emptyList()},
	readEmpty: map[string]resource.PropertyValue{"ipamOptions": emptyMap()},
	delta: &deltaSpec{
		lists: map[string]*deltaSpec{
			"labels": objectElem, "ipamConfigs": {maps: []string{"auxAddress"}},
		},
		maps:    []string{"options", "ipamOptions"},
		renamed: map[string]string{"ipamConfigs": "ipam_config"},
	},
}

var volumeShape = &tfShape{
	meta:      `{"schema_version":"1"}`,
	readEmpty: map[string]resource.PropertyValue{"driverOpts": emptyMap()},
	zero:      map[string]resource.PropertyValue{"cluster": null(), "driverOpts": null(), "labels": emptyList()},
	delta:     &deltaSpec{lists: map[string]*deltaSpec{"labels": objectElem}, maps: []string{"driverOpts"}, blocks: map[string]blockDelta{"cluster": {spec: &deltaSpec{}, null: true}}},
}

var remoteImageShape = &tfShape{
	meta: `{` + tfTimeouts + `}`,
	zero: map[string]resource.PropertyValue{
		"build": null(), "forceRemove": null(), "platform": null(), "pullTriggers": null(), "triggers": null(),
	},
	delta: &deltaSpec{
		lists:  map[string]*deltaSpec{"pullTriggers": nil},
		maps:   []string{"triggers"},
		blocks: map[string]blockDelta{"build": {spec: &deltaSpec{}, null: true}},
	},
}

func (containerKind) shape() *tfShape   { return containerShape }
func (networkKind) shape() *tfShape     { return networkShape }
func (volumeKind) shape() *tfShape      { return volumeShape }
func (remoteImageKind) shape() *tfShape { return remoteImageShape }
