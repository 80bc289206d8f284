package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- Service: the spec sent to the engine (upstream's createServiceSpec) ------------------

func obj(v resource.PropertyValue) map[string]any {
	m, _ := plain(v).(map[string]any)
	return m
}

func getObj(m map[string]any, k string) map[string]any { o, _ := m[k].(map[string]any); return o }
func getStr(m map[string]any, k string) string         { s, _ := m[k].(string); return s }
func getNum(m map[string]any, k string) int64          { f, _ := m[k].(float64); return int64(f) }
func getBool(m map[string]any, k string) bool          { b, _ := m[k].(bool); return b }
func getList(m map[string]any, k string) []any         { l, _ := m[k].([]any); return l }

func strList(l []any) []string {
	out := []string{}
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func strMap(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// dur: upstream parses with time.ParseDuration and ignores the error (an unset value is 0).
func dur(s string) int64 { d, _ := time.ParseDuration(s); return int64(d) }

// serviceSpec builds the spec as upstream's createServiceSpec does, with its zero values: a
// stop grace period of 0 when unset, Init false, an empty Healthcheck, DNSConfig, Resources,
// Placement and EndpointSpec, every restart policy key.
func serviceSpec(in resource.PropertyMap) map[string]any {
	ts := obj(in["taskSpec"])
	cs := getObj(ts, "containerSpec")
	c := map[string]any{
		"Image": getStr(cs, "image"), "Hostname": "", "Dir": "", "User": "",
		"StopSignal": getStr(cs, "stopSignal"), "Isolation": getStr(cs, "isolation"),
		"StopGracePeriod": dur(getStr(cs, "stopGracePeriod")), "Init": false,
		"DNSConfig": map[string]any{}, "ReadOnly": false,
	}
	if l := getList(cs, "commands"); len(l) > 0 {
		c["Command"] = strList(l)
	}
	if env := getObj(cs, "env"); len(env) > 0 {
		var kv []string
		for k, v := range env {
			kv = append(kv, k+"="+fmt.Sprint(v))
		}
		// Go map order, as upstream's mapTypeMapValsToStringSlice (container_structures.go): Swarm
		// then sees a new spec in every update, and replaces every task.
		c["Env"] = kv
	}
	hc := map[string]any{}
	if h := getObj(cs, "healthcheck"); h != nil {
		hc = map[string]any{"Test": strList(getList(h, "tests")), "Interval": dur(getStr(h, "interval")),
			"Timeout": dur(getStr(h, "timeout")), "StartPeriod": dur(getStr(h, "startPeriod")), "Retries": getNum(h, "retries")}
		if len(getList(h, "tests")) == 0 {
			delete(hc, "Test")
		}
	}
	c["Healthcheck"] = hc
	if ms := getList(cs, "mounts"); ms != nil {
		mounts := []any{}
		for _, e := range ms {
			m, _ := e.(map[string]any)
			mt := map[string]any{"Type": getStr(m, "type"), "Target": getStr(m, "target"), "Source": getStr(m, "source"),
				"ReadOnly": getBool(m, "readOnly")}
			if vo := getObj(m, "volumeOptions"); vo != nil {
				v := map[string]any{"NoCopy": getBool(vo, "noCopy")}
				_, hasName := vo["driverName"]
				_, hasOpts := vo["driverOptions"]
				if hasName || hasOpts {
					v["DriverConfig"] = map[string]any{"Name": getStr(vo, "driverName"), "Options": strMap(getObj(vo, "driverOptions"))}
				}
				mt["VolumeOptions"] = v
			}
			if bo := getObj(m, "bindOptions"); bo != nil {
				mt["BindOptions"] = map[string]any{"Propagation": getStr(bo, "propagation")}
			}
			mounts = append(mounts, mt)
		}
		c["Mounts"] = mounts
	}
	fileRefs := func(key, idKey, nameKey, apiID, apiName string) []any {
		refs := []any{}
		for _, e := range getList(cs, key) {
			m, _ := e.(map[string]any)
			refs = append(refs, map[string]any{apiID: getStr(m, idKey), apiName: getStr(m, nameKey),
				"File": map[string]any{"Name": getStr(m, "fileName"), "UID": getStr(m, "fileUid"),
					"GID": getStr(m, "fileGid"), "Mode": getNum(m, "fileMode")}})
		}
		return refs
	}
	if _, ok := cs["secrets"]; ok {
		c["Secrets"] = fileRefs("secrets", "secretId", "secretName", "SecretID", "SecretName")
	}
	if _, ok := cs["configs"]; ok {
		c["Configs"] = fileRefs("configs", "configId", "configName", "ConfigID", "ConfigName")
	}

	task := map[string]any{"ContainerSpec": c, "Resources": map[string]any{}, "ForceUpdate": 0, "Runtime": ""}
	rp := map[string]any{}
	if r := getObj(ts, "restartPolicy"); r != nil {
		rp = map[string]any{"Condition": getStr(r, "condition"), "Delay": dur(getStr(r, "delay")),
			"MaxAttempts": getNum(r, "maxAttempts"), "Window": dur(getStr(r, "window"))}
	}
	task["RestartPolicy"] = rp
	pl := map[string]any{}
	if p := getObj(ts, "placement"); p != nil {
		pl["Constraints"] = strList(getList(p, "constraints"))
		pl["MaxReplicas"] = getNum(p, "maxReplicas")
	}
	task["Placement"] = pl
	var nets []any
	for _, e := range getList(ts, "networksAdvanceds") {
		m, _ := e.(map[string]any)
		target := getStr(m, "id")
		if target == "" {
			target = getStr(m, "name")
		}
		nets = append(nets, map[string]any{"Target": target, "Aliases": strList(getList(m, "aliases"))})
	}
	task["Networks"] = nets

	spec := map[string]any{"Name": plain(in["name"]), "TaskTemplate": task}
	mode := map[string]any{}
	if m := obj(in["mode"]); m != nil {
		if r := getObj(m, "replicated"); r != nil {
			mode["Replicated"] = map[string]any{"Replicas": getNum(r, "replicas")}
		}
		if getBool(m, "global") {
			mode["Global"] = map[string]any{}
		}
	}
	spec["Mode"] = mode
	for key, api := range map[string]string{"updateConfig": "UpdateConfig", "rollbackConfig": "RollbackConfig"} {
		if u := obj(in[resource.PropertyKey(key)]); u != nil {
			ratio, _ := strconv.ParseFloat(getStr(u, "maxFailureRatio"), 64)
			spec[api] = map[string]any{"Parallelism": getNum(u, "parallelism"), "Delay": dur(getStr(u, "delay")),
				"FailureAction": getStr(u, "failureAction"), "Monitor": dur(getStr(u, "monitor")),
				"MaxFailureRatio": float32(ratio), "Order": getStr(u, "order")}
		}
	}
	ep := map[string]any{}
	if e := obj(in["endpointSpec"]); e != nil {
		ep["Mode"] = getStr(e, "mode")
		var ports []any
		for _, p := range getList(e, "ports") {
			m, _ := p.(map[string]any)
			ports = append(ports, map[string]any{"Name": getStr(m, "name"), "Protocol": getStr(m, "protocol"),
				"TargetPort": getNum(m, "targetPort"), "PublishedPort": getNum(m, "publishedPort"),
				"PublishMode": getStr(m, "publishMode")})
		}
		if _, ok := e["ports"]; ok {
			ep["Ports"] = ports
		}
	}
	spec["EndpointSpec"] = ep
	return spec
}

// serviceAuth: upstream's fromRegistryAuth: the provider's registryAuth for the text before the
// first "/" of the image (scheme stripped); none when the image has no "/".
func serviceAuth(p *dockerProvider, image string) string {
	image = strings.Replace(strings.Replace(image, "http://", "", 1), "https://", "", 1)
	i := strings.Index(image, "/")
	if i < 0 {
		return encodeAuth(nil)
	}
	return encodeAuth(p.authFor(image[:i]))
}

// pinImage is the docker client's QueryRegistry step of ServiceCreate: the registry's digest
// pins a reference that has none, and the image's platforms go into the placement. A registry
// that cannot be asked leaves the spec as it is (upstream ignores the warning).
func pinImage(ctx context.Context, e *engine, spec map[string]any, auth string) {
	task := spec["TaskTemplate"].(map[string]any)
	c := task["ContainerSpec"].(map[string]any)
	image := c["Image"].(string)
	resp, err := e.do(ctx, http.MethodGet, "/distribution/"+image+"/json", nil, nil, map[string]string{"X-Registry-Auth": auth})
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var di struct {
		Descriptor struct {
			Digest string `json:"digest"`
		} `json:"Descriptor"`
		Platforms []struct {
			Architecture string `json:"architecture"`
			OS           string `json:"os"`
		} `json:"Platforms"`
	}
	if json.NewDecoder(resp.Body).Decode(&di) != nil {
		return
	}
	if !strings.Contains(image, "@") && di.Descriptor.Digest != "" {
		c["Image"] = tagged(image) + "@" + di.Descriptor.Digest
	}
	if len(di.Platforms) > 0 {
		var ps []any
		for _, p := range di.Platforms {
			arch := p.Architecture
			if strings.EqualFold(arch, "arm") {
				arch = ""
			}
			ps = append(ps, map[string]any{"Architecture": arch, "OS": p.OS})
		}
		task["Placement"].(map[string]any)["Platforms"] = ps
	}
}

// tagged: the docker client's tag normalisation (a reference without tag or digest gets latest).
func tagged(image string) string {
	if strings.Contains(image, "@") {
		return image
	}
	last := image[strings.LastIndex(image, "/")+1:]
	if !strings.Contains(last, ":") {
		return image + ":latest"
	}
	return image
}
