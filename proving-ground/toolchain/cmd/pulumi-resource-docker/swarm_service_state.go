package main

import (
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- Service: state -------------------------------------------------------------------------

func strListValue(l []string) resource.PropertyValue {
	items := make([]resource.PropertyValue, 0, len(l))
	for _, s := range l {
		items = append(items, str(s))
	}
	return resource.NewArrayProperty(items)
}

func objOrNil(v resource.PropertyValue) resource.PropertyMap {
	if v.IsObject() {
		return v.ObjectValue()
	}
	return nil
}

// fill sets each key of zero that m lacks (or holds null).
func fill(m resource.PropertyMap, zero map[string]resource.PropertyValue) resource.PropertyMap {
	for k, z := range zero {
		if cur, ok := m[resource.PropertyKey(k)]; !ok || cur.IsNull() {
			m[resource.PropertyKey(k)] = z
		}
	}
	return m
}

// serviceOutputs: what the bridge records after a create or an update: the declared inputs,
// every schema field filled with its zero value, and the engine's values for the unset Computed
// fields. svc nil: a preview (those are unknown).
func serviceOutputs(news resource.PropertyMap, svc *swarmService) resource.PropertyMap {
	out := serviceSchema.outputs(news)
	unknown := func(v func() resource.PropertyValue) resource.PropertyValue {
		if svc == nil {
			return computed()
		}
		return v()
	}
	spec := func() *swarmService { return svc }

	ts := objOrNil(out["taskSpec"]).Copy()
	cs := objOrNil(ts["containerSpec"]).Copy()
	fill(cs, map[string]resource.PropertyValue{
		"args": null(), "capAdds": null(), "capDrops": null(), "commands": null(), "configs": emptyList(),
		"dir": str(""), "env": null(), "groups": null(), "hostname": str(""), "hosts": emptyList(),
		"labels": emptyList(), "mounts": emptyList(), "privileges": null(), "readOnly": boolean(false),
		"secrets": emptyList(), "stopSignal": str(""), "sysctl": null(), "user": str(""),
	})
	if _, ok := cs["dnsConfig"]; !ok {
		cs["dnsConfig"] = unknown(func() resource.PropertyValue {
			return resource.NewObjectProperty(resource.PropertyMap{"nameservers": null(), "options": null(), "searches": null()})
		})
	}
	if hc, ok := cs["healthcheck"]; ok && hc.IsObject() {
		cs["healthcheck"] = resource.NewObjectProperty(fill(hc.ObjectValue().Copy(), map[string]resource.PropertyValue{
			"tests": emptyList(), "retries": num(0)}))
	} else {
		cs["healthcheck"] = unknown(func() resource.PropertyValue { return readHealthcheck(spec()) })
	}
	if _, ok := cs["stopGracePeriod"]; !ok {
		cs["stopGracePeriod"] = unknown(func() resource.PropertyValue { return str(readStopGrace(spec())) })
	}
	if _, ok := cs["init"]; !ok {
		cs["init"] = unknown(func() resource.PropertyValue { return boolean(false) })
	}
	ts["containerSpec"] = resource.NewObjectProperty(cs)
	fill(ts, map[string]resource.PropertyValue{"forceUpdate": num(0), "logDriver": null(), "networksAdvanceds": emptyList()})
	if p, ok := ts["placement"]; ok && p.IsObject() {
		// Declared: platforms is not Computed (the create's pinned ones are not recorded).
		ts["placement"] = resource.NewObjectProperty(fill(p.ObjectValue().Copy(), map[string]resource.PropertyValue{
			"constraints": null(), "maxReplicas": num(0), "platforms": emptyList(), "prefs": null()}))
	} else {
		ts["placement"] = unknown(func() resource.PropertyValue { return readPlacement(spec()) })
	}
	if _, ok := ts["resources"]; !ok {
		ts["resources"] = unknown(func() resource.PropertyValue {
			return resource.NewObjectProperty(resource.PropertyMap{"limits": null(), "reservation": null()})
		})
	}
	if _, ok := ts["restartPolicy"]; !ok {
		ts["restartPolicy"] = unknown(func() resource.PropertyValue { return readRestartPolicy(spec()) })
	}
	if _, ok := ts["runtime"]; !ok {
		ts["runtime"] = unknown(func() resource.PropertyValue { return str(spec().Spec.TaskTemplate.Runtime) })
	}
	out["taskSpec"] = resource.NewObjectProperty(ts)

	if m, ok := out["mode"]; ok && m.IsObject() {
		mm := m.ObjectValue().Copy()
		fill(mm, map[string]resource.PropertyValue{"global": boolean(false), "replicated": null()})
		out["mode"] = resource.NewObjectProperty(mm)
	} else {
		out["mode"] = unknown(func() resource.PropertyValue { return readMode(spec()) })
	}
	if e, ok := out["endpointSpec"]; ok && e.IsObject() {
		em := e.ObjectValue().Copy()
		if _, ok := em["mode"]; !ok {
			em["mode"] = unknown(func() resource.PropertyValue { return str(spec().Endpoint.Spec.Mode) })
		}
		if _, ok := em["ports"]; !ok {
			em["ports"] = emptyList()
		}
		out["endpointSpec"] = resource.NewObjectProperty(em)
	} else {
		out["endpointSpec"] = unknown(func() resource.PropertyValue { return readEndpoint(spec()) })
	}
	return out
}

func readHealthcheck(s *swarmService) resource.PropertyValue {
	cs := s.Spec.TaskTemplate.ContainerSpec
	if cs == nil || cs.Healthcheck == nil {
		return null()
	}
	h := cs.Healthcheck
	return resource.NewObjectProperty(resource.PropertyMap{
		"tests": strListValue(h.Test), "interval": str(shortDur(h.Interval)), "timeout": str(shortDur(h.Timeout)),
		"startPeriod": str(shortDur(h.StartPeriod)), "retries": num(float64(h.Retries)),
	})
}

func readStopGrace(s *swarmService) string {
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil && cs.StopGrace != nil {
		return shortDur(*cs.StopGrace)
	}
	return ""
}

func readPlacement(s *swarmService) resource.PropertyValue {
	p := s.Spec.TaskTemplate.Placement
	if p == nil {
		return null()
	}
	var plats []resource.PropertyValue
	for _, pl := range p.Platforms {
		plats = append(plats, resource.NewObjectProperty(resource.PropertyMap{"architecture": str(pl.Architecture), "os": str(pl.OS)}))
	}
	var prefs []string
	for _, pr := range p.Preferences {
		prefs = append(prefs, pr.Spread.SpreadDescriptor)
	}
	sort.Strings(prefs)
	constraints := append([]string{}, p.Constraints...)
	sort.Strings(constraints)
	return resource.NewObjectProperty(resource.PropertyMap{
		"constraints": strListValue(constraints), "maxReplicas": num(float64(p.MaxReplicas)),
		"platforms": resource.NewArrayProperty(plats), "prefs": strListValue(prefs),
	})
}

func readRestartPolicy(s *swarmService) resource.PropertyValue {
	r := s.Spec.TaskTemplate.RestartPolicy
	if r == nil {
		return null()
	}
	m := resource.PropertyMap{"condition": null(), "delay": null(), "maxAttempts": null(), "window": null()}
	if r.Condition != "" {
		m["condition"] = str(r.Condition)
	}
	if r.Delay != nil {
		m["delay"] = str(shortDur(*r.Delay))
	}
	if r.MaxAttempts != nil {
		m["maxAttempts"] = num(float64(*r.MaxAttempts))
	}
	if r.Window != nil {
		m["window"] = str(shortDur(*r.Window))
	}
	return resource.NewObjectProperty(m)
}

func readMode(s *swarmService) resource.PropertyValue {
	m := resource.PropertyMap{"global": boolean(s.Spec.Mode.Global != nil), "replicated": null()}
	if r := s.Spec.Mode.Replicated; r != nil {
		rm := resource.PropertyMap{}
		if r.Replicas != nil {
			rm["replicas"] = num(float64(*r.Replicas))
		}
		m["replicated"] = resource.NewObjectProperty(rm)
	}
	return resource.NewObjectProperty(m)
}

// readEndpoint: upstream prefers the runtime endpoint (with the ports swarm assigned).
func readEndpoint(s *swarmService) resource.PropertyValue {
	mode, ports := s.Endpoint.Spec.Mode, s.Endpoint.Ports
	if mode == "" && s.Spec.EndpointSpec != nil {
		mode, ports = s.Spec.EndpointSpec.Mode, s.Spec.EndpointSpec.Ports
	}
	items := []resource.PropertyValue{}
	for _, p := range ports {
		items = append(items, resource.NewObjectProperty(resource.PropertyMap{
			"name": str(p.Name), "protocol": str(p.Protocol), "targetPort": num(float64(p.TargetPort)),
			"publishedPort": num(float64(p.PublishedPort)), "publishMode": str(p.PublishMode),
		}))
	}
	return resource.NewObjectProperty(resource.PropertyMap{"mode": str(mode), "ports": resource.NewArrayProperty(items)})
}

func readUpdateConfig(u *swarmUpdateConfig) resource.PropertyValue {
	if u == nil {
		return null()
	}
	return resource.NewObjectProperty(resource.PropertyMap{
		"parallelism": num(float64(u.Parallelism)), "delay": str(shortDur(u.Delay)), "failureAction": str(u.FailureAction),
		"monitor": str(shortDur(u.Monitor)), "maxFailureRatio": str(ratioString(u.MaxFailureRatio)), "order": str(u.Order),
	})
}

// serviceRead: upstream's Read (its flatteners) over the prior state: what a refresh records.
func serviceRead(state resource.PropertyMap, s *swarmService) resource.PropertyMap {
	out := state.Copy()
	out["name"] = str(s.Spec.Name)
	var labels []resource.PropertyValue
	for _, k := range sortedKeys(s.Spec.Labels) {
		labels = append(labels, resource.NewObjectProperty(resource.PropertyMap{"label": str(k), "value": str(s.Spec.Labels[k])}))
	}
	out["labels"] = resource.NewArrayProperty(labels)
	tt := s.Spec.TaskTemplate
	ts := objOrNil(state["taskSpec"]).Copy()
	if ts == nil {
		ts = resource.PropertyMap{}
	}
	if c := tt.ContainerSpec; c != nil {
		cs := objOrNil(ts["containerSpec"]).Copy()
		if cs == nil {
			cs = resource.PropertyMap{}
		}
		cs["image"] = str(c.Image)
		cs["commands"] = strListValue(c.Command)
		env := resource.PropertyMap{}
		for _, kv := range c.Env {
			k, v, _ := strings.Cut(kv, "=")
			env[resource.PropertyKey(k)] = str(v)
		}
		cs["env"] = resource.NewObjectProperty(env)
		for _, k := range []string{"args", "capAdds", "capDrops", "groups"} {
			cs[resource.PropertyKey(k)] = emptyList()
		}
		cs["sysctl"] = emptyMap()
		cs["stopSignal"] = str(c.StopSignal)
		cs["isolation"] = str(c.Isolation)
		if c.StopGrace != nil {
			cs["stopGracePeriod"] = str(shortDur(*c.StopGrace))
		}
		if c.Init != nil {
			cs["init"] = boolean(*c.Init)
		}
		cs["healthcheck"] = readHealthcheck(s)
		var mounts []resource.PropertyValue
		for _, m := range c.Mounts {
			mm := resource.PropertyMap{"target": str(m.Target), "source": str(m.Source), "type": str(m.Type),
				"readOnly": boolean(m.ReadOnly), "bindOptions": null(), "tmpfsOptions": null(), "volumeOptions": null()}
			if b := m.BindOptions; b != nil {
				mm["bindOptions"] = resource.NewObjectProperty(resource.PropertyMap{"propagation": str(b.Propagation)})
			}
			if v := m.VolumeOptions; v != nil {
				vo := resource.PropertyMap{"noCopy": boolean(v.NoCopy), "labels": emptyList(), "driverName": str(""),
					"driverOptions": emptyMap()}
				if v.DriverConfig != nil {
					vo["driverName"] = str(v.DriverConfig.Name)
					vo["driverOptions"] = stringMap(v.DriverConfig.Options)
					if vo["driverOptions"].IsNull() {
						vo["driverOptions"] = emptyMap()
					}
				}
				mm["volumeOptions"] = resource.NewObjectProperty(vo)
			}
			mounts = append(mounts, resource.NewObjectProperty(mm))
		}
		cs["mounts"] = resource.NewArrayProperty(mounts)
		cs["configs"] = readFileRefs(c.Configs, "configId", "configName")
		cs["secrets"] = readFileRefs(c.Secrets, "secretId", "secretName")
		ts["containerSpec"] = resource.NewObjectProperty(cs)
	}
	ts["restartPolicy"] = readRestartPolicy(s)
	ts["placement"] = readPlacement(s)
	ts["forceUpdate"] = num(float64(tt.ForceUpdate))
	if tt.Runtime != "" {
		ts["runtime"] = str(tt.Runtime)
	}
	if len(tt.Networks) > 0 {
		var nets []resource.PropertyValue
		for _, n := range tt.Networks {
			opts := []string{}
			for _, k := range sortedKeys(n.DriverOpts) {
				opts = append(opts, k+"="+n.DriverOpts[k])
			}
			nets = append(nets, resource.NewObjectProperty(resource.PropertyMap{
				"id": str(n.Target), "name": str(""), "aliases": strListValue(n.Aliases), "driverOpts": strListValue(opts),
			}))
		}
		ts["networksAdvanceds"] = resource.NewArrayProperty(nets)
	}
	out["taskSpec"] = resource.NewObjectProperty(ts)
	out["mode"] = readMode(s)
	out["updateConfig"] = readUpdateConfig(s.Spec.UpdateConfig)
	out["rollbackConfig"] = readUpdateConfig(s.Spec.RollbackConfig)
	out["endpointSpec"] = readEndpoint(s)
	return out
}

func readFileRefs(refs []swarmFileRef, idKey, nameKey string) resource.PropertyValue {
	items := []resource.PropertyValue{}
	for _, r := range refs {
		id, name := r.ConfigID, r.ConfigName
		if idKey == "secretId" {
			id, name = r.SecretID, r.SecretName
		}
		m := resource.PropertyMap{resource.PropertyKey(idKey): str(id), resource.PropertyKey(nameKey): str(name)}
		if f := r.File; f != nil {
			m["fileName"], m["fileUid"], m["fileGid"], m["fileMode"] = str(f.Name), str(f.UID), str(f.GID), num(float64(f.Mode))
		}
		items = append(items, resource.NewObjectProperty(m))
	}
	return resource.NewArrayProperty(items)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
