package main

// Swarm: docker:index/serviceConfig:ServiceConfig, docker:index/secret:Secret and
// docker:index/service:Service, as upstream (kreuzwerker v4.5.0 docker_config, docker_secret,
// docker_service under pulumi-docker v5.1.0's bridge), for the inputs in `verifiedPaths`.
//
// What the bridge records (recorded on upstream with a replicated and a global service, see
// swarm_test.go): after a create or an update, the state holds the declared inputs (no
// `__defaults`) with every schema field filled with its zero value, and, for what the program
// leaves unset and the schema marks Computed, what the engine reports (healthcheck, dnsConfig,
// stopGracePeriod, init, placement, resources, restartPolicy, runtime, endpoint mode, mode).
// A refresh replaces that with upstream's Read (its flatteners): networksAdvanceds then hold the
// network's id and an empty name, placement the platforms the create pinned, empty lists and
// maps where the create recorded null.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- ServiceConfig ------------------------------------------------------------------------

type serviceConfigKind struct{}

func (serviceConfigKind) supported() []string  { return []string{"name", "data", "dataRaw", "labels"} }
func (serviceConfigKind) updateKeys() []string { return nil } // no Update upstream: every change replaces
func (serviceConfigKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}
func (serviceConfigKind) setKeys() map[string]bool { return map[string]bool{"labels": true} }

var serviceConfigSchema = &block{}

var serviceConfigShape = &tfShape{ // schema version 0: no `__meta`
	zero:  map[string]resource.PropertyValue{"dataRaw": null(), "labels": emptyList()},
	delta: &deltaSpec{lists: map[string]*deltaSpec{"labels": objectElem}},
}

func (serviceConfigKind) shape() *tfShape { return serviceConfigShape }

func (serviceConfigKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if d, ok := plain(news["data"]).(string); ok {
		if _, err := base64.StdEncoding.DecodeString(d); err != nil {
			return nil, fmt.Errorf("data: %q is not base64-encoded", d)
		}
	}
	return checkNamed(serviceConfigSchema, urn, olds, news)
}

func (serviceConfigKind) create(ctx context.Context, p *dockerProvider, _ resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", serviceConfigSchema.outputs(news), nil
	}
	name, _ := plain(news["name"]).(string)
	data, err := base64.StdEncoding.DecodeString(fmt.Sprint(plain(news["data"])))
	if err != nil {
		return "", nil, fmt.Errorf("failed to decode config data: %w", err)
	}
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	var created struct {
		ID string `json:"ID"`
	}
	if err := e.call(ctx, http.MethodPost, "/configs/create", nil, map[string]any{"Name": name, "Data": data}, &created); err != nil {
		return "", nil, err
	}
	return created.ID, serviceConfigSchema.outputs(news), nil
}

func (serviceConfigKind) update(_ context.Context, _ *dockerProvider, _ resource.URN, _ string, _, news resource.PropertyMap, _ bool) (resource.PropertyMap, error) {
	return serviceConfigSchema.outputs(news), nil
}

func (serviceConfigKind) delete(ctx context.Context, p *dockerProvider, _ resource.URN, id string, _ resource.PropertyMap) error {
	e, err := p.engine()
	if err != nil {
		return err
	}
	return e.call(ctx, http.MethodDelete, "/configs/"+url.PathEscape(id), nil, nil, nil) // raw, as upstream
}

// read: as upstream, any inspect error drops it from the state; name and data come from the engine.
func (serviceConfigKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var c struct {
		Spec struct {
			Name string `json:"Name"`
			Data []byte `json:"Data"`
		} `json:"Spec"`
	}
	if err := e.call(ctx, http.MethodGet, "/configs/"+url.PathEscape(id), nil, nil, &c); err != nil {
		return nil, nil
	}
	out := state.Copy()
	out["name"] = str(c.Spec.Name)
	out["data"] = str(base64.StdEncoding.EncodeToString(c.Spec.Data))
	return out, nil
}

// ---- Secret -------------------------------------------------------------------------------

type secretKind struct{}

func (secretKind) supported() []string  { return []string{"name", "data", "labels"} }
func (secretKind) updateKeys() []string { return nil }
func (secretKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}
func (secretKind) setKeys() map[string]bool { return map[string]bool{"labels": true} }

var secretSchema = &block{}

var secretShape = &tfShape{
	meta:  `{"schema_version":"1"}`,
	zero:  map[string]resource.PropertyValue{"labels": emptyList()},
	delta: &deltaSpec{lists: map[string]*deltaSpec{"labels": objectElem}},
}

func (secretKind) shape() *tfShape { return secretShape }

func (secretKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if v, ok := news["data"]; !ok || v.IsNull() {
		return nil, errors.New("Secret: data is required")
	}
	if d, ok := plain(news["data"]).(string); ok {
		if _, err := base64.StdEncoding.DecodeString(d); err != nil {
			return nil, errors.New("data: value is not base64-encoded") // the value is sensitive: not echoed
		}
	}
	return checkNamed(secretSchema, urn, olds, news)
}

func (secretKind) create(ctx context.Context, p *dockerProvider, _ resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", secretSchema.outputs(news), nil
	}
	name, _ := plain(news["name"]).(string)
	data, _ := base64.StdEncoding.DecodeString(fmt.Sprint(plain(news["data"]))) // upstream ignores the error
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	var created struct {
		ID string `json:"ID"`
	}
	if err := e.call(ctx, http.MethodPost, "/secrets/create", nil, map[string]any{"Name": name, "Data": data}, &created); err != nil {
		return "", nil, err
	}
	return created.ID, secretSchema.outputs(news), nil
}

func (secretKind) update(_ context.Context, _ *dockerProvider, _ resource.URN, _ string, _, news resource.PropertyMap, _ bool) (resource.PropertyMap, error) {
	return secretSchema.outputs(news), nil
}

func (secretKind) delete(ctx context.Context, p *dockerProvider, _ resource.URN, id string, _ resource.PropertyMap) error {
	e, err := p.engine()
	if err != nil {
		return err
	}
	return e.call(ctx, http.MethodDelete, "/secrets/"+url.PathEscape(id), nil, nil, nil)
}

// read: upstream's sets only the name (the engine never returns a secret's data).
func (secretKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var s struct {
		Spec struct {
			Name string `json:"Name"`
		} `json:"Spec"`
	}
	if err := e.call(ctx, http.MethodGet, "/secrets/"+url.PathEscape(id), nil, nil, &s); err != nil {
		return nil, nil
	}
	out := state.Copy()
	out["name"] = str(s.Spec.Name)
	return out, nil
}

// ---- Service: schema ----------------------------------------------------------------------

type serviceKind struct{}

func (serviceKind) supported() []string {
	return []string{"name", "labels", "auth", "taskSpec", "mode", "updateConfig", "rollbackConfig",
		"endpointSpec", "convergeConfig"}
}

// updateKeys: replacement is decided by serviceReplaces (nested ForceNew fields).
func (serviceKind) updateKeys() []string { return serviceKind{}.supported() }
func (serviceKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}
func (serviceKind) setKeys() map[string]bool { return nil }
func (serviceKind) shape() *tfShape          { return serviceShape }

var updateRollbackDefaults = []fieldDefault{
	{"delay", str("0s")}, {"failureAction", str("pause")}, {"maxFailureRatio", str("0.0")},
	{"monitor", str("5s")}, {"order", str("stop-first")}, {"parallelism", num(1)},
}

var fileRefDefaults = []fieldDefault{{"fileGid", str("0")}, {"fileMode", num(292)}, {"fileUid", str("0")}}

// serviceSchema: the Terraform defaults the bridge fills in at Check (`__defaults`), and the zero
// values set elements carry in the state (strings "", lists [], an unset bool null).
var serviceSchema = &block{nested: map[string]*block{
	"taskSpec": {nested: map[string]*block{
		"containerSpec": {
			defaults: []fieldDefault{{"isolation", str("default")}},
			nested: map[string]*block{
				"healthcheck": {defaults: []fieldDefault{
					{"interval", str("0s")}, {"startPeriod", str("0s")}, {"timeout", str("0s")}}},
				"mounts": {
					nested: map[string]*block{
						"volumeOptions": {outZero: map[string]resource.PropertyValue{
							"driverName": str(""), "driverOptions": null(), "labels": emptyList(), "noCopy": null()}},
						"bindOptions":  {defaults: []fieldDefault{{"propagation", str("rprivate")}}},
						"tmpfsOptions": emptyBlock(),
					},
					outZero: map[string]resource.PropertyValue{
						"bindOptions": null(), "readOnly": null(), "source": str(""), "tmpfsOptions": null(),
						"volumeOptions": null()},
				},
				"configs": {defaults: fileRefDefaults, outZero: map[string]resource.PropertyValue{"configName": str("")}},
				"secrets": {defaults: fileRefDefaults, outZero: map[string]resource.PropertyValue{"secretName": str("")}},
			},
		},
		"networksAdvanceds": {outZero: map[string]resource.PropertyValue{
			"aliases": emptyList(), "driverOpts": emptyList(), "id": str(""), "name": str("")}},
		"placement":     emptyBlock(),
		"restartPolicy": emptyBlock(),
	}},
	"mode":           {nested: map[string]*block{"replicated": {defaults: []fieldDefault{{"replicas", num(1)}}}}},
	"updateConfig":   {defaults: updateRollbackDefaults},
	"rollbackConfig": {defaults: updateRollbackDefaults},
	"endpointSpec": {nested: map[string]*block{"ports": {
		defaults: []fieldDefault{{"protocol", str("tcp")}, {"publishMode", str("ingress")}},
		outZero:  map[string]resource.PropertyValue{"name": str("")},
	}}},
	"convergeConfig": {defaults: []fieldDefault{{"delay", str("7s")}, {"timeout", str("3m")}}},
}}

var serviceShape = &tfShape{
	meta: `{"schema_version":"2"}`,
	zero: map[string]resource.PropertyValue{
		"auth": null(), "convergeConfig": null(), "labels": emptyList(), "rollbackConfig": null(),
		"updateConfig": null(),
	},
	delta: &deltaSpec{
		lists: map[string]*deltaSpec{"labels": objectElem},
		blocks: map[string]blockDelta{
			"auth":           {spec: &deltaSpec{}, null: true},
			"convergeConfig": {spec: &deltaSpec{}, null: true},
			"updateConfig":   {spec: &deltaSpec{}, null: true},
			"rollbackConfig": {spec: &deltaSpec{}, null: true},
			"endpointSpec":   {spec: &deltaSpec{lists: map[string]*deltaSpec{"ports": objectElem}}},
			"mode": {spec: &deltaSpec{blocks: map[string]blockDelta{
				"replicated": {spec: &deltaSpec{}, null: true}}}},
			"taskSpec": {spec: &deltaSpec{
				lists: map[string]*deltaSpec{"networksAdvanceds": {lists: map[string]*deltaSpec{"aliases": nil, "driverOpts": nil}}},
				blocks: map[string]blockDelta{
					"containerSpec": {spec: containerSpecDelta},
					"logDriver":     {spec: &deltaSpec{maps: []string{"options"}}, null: true},
					"placement": {spec: &deltaSpec{lists: map[string]*deltaSpec{
						"constraints": nil, "platforms": objectElem, "prefs": nil}}},
					"resources": {spec: &deltaSpec{blocks: map[string]blockDelta{
						"limits": {spec: &deltaSpec{}, null: true}, "reservation": {spec: &deltaSpec{}, null: true}}}},
					"restartPolicy": {spec: &deltaSpec{}},
				},
				renamed: map[string]string{"networksAdvanceds": "networks_advanced"},
			}},
		},
	},
}

var containerSpecDelta = &deltaSpec{
	lists: map[string]*deltaSpec{
		"args": nil, "capAdds": nil, "capDrops": nil, "commands": nil, "groups": nil,
		"configs": objectElem, "secrets": objectElem, "hosts": objectElem, "labels": objectElem,
		"mounts": {blocks: map[string]blockDelta{
			"bindOptions":   {spec: &deltaSpec{}, null: true},
			"tmpfsOptions":  {spec: &deltaSpec{}, null: true},
			"volumeOptions": {spec: &deltaSpec{maps: []string{"driverOptions"}, lists: map[string]*deltaSpec{"labels": objectElem}}, null: true},
		}},
	},
	maps: []string{"env", "sysctl"},
	blocks: map[string]blockDelta{
		"dnsConfig":   {spec: &deltaSpec{renamed: map[string]string{"searches": "search"}}},
		"healthcheck": {spec: &deltaSpec{lists: map[string]*deltaSpec{"tests": nil}, renamed: map[string]string{"tests": "test"}}},
		"privileges":  {spec: &deltaSpec{}, null: true},
	},
	renamed: map[string]string{"capAdds": "cap_add", "capDrops": "cap_drop", "commands": "command"},
}

// ---- Service: the engine's view -----------------------------------------------------------

type swarmService struct {
	ID      string `json:"ID"`
	Version struct {
		Index uint64 `json:"Index"`
	} `json:"Version"`
	Spec struct {
		Name         string            `json:"Name"`
		Labels       map[string]string `json:"Labels"`
		TaskTemplate struct {
			ContainerSpec *struct {
				Image       string   `json:"Image"`
				Command     []string `json:"Command"`
				Env         []string `json:"Env"`
				StopSignal  string   `json:"StopSignal"`
				StopGrace   *int64   `json:"StopGracePeriod"`
				Isolation   string   `json:"Isolation"`
				Init        *bool    `json:"Init"`
				Healthcheck *struct {
					Test        []string `json:"Test"`
					Interval    int64    `json:"Interval"`
					Timeout     int64    `json:"Timeout"`
					StartPeriod int64    `json:"StartPeriod"`
					Retries     int      `json:"Retries"`
				} `json:"Healthcheck"`
				Mounts []struct {
					Type          string `json:"Type"`
					Source        string `json:"Source"`
					Target        string `json:"Target"`
					ReadOnly      bool   `json:"ReadOnly"`
					VolumeOptions *struct {
						NoCopy       bool              `json:"NoCopy"`
						Labels       map[string]string `json:"Labels"`
						DriverConfig *struct {
							Name    string            `json:"Name"`
							Options map[string]string `json:"Options"`
						} `json:"DriverConfig"`
					} `json:"VolumeOptions"`
					BindOptions *struct {
						Propagation string `json:"Propagation"`
					} `json:"BindOptions"`
				} `json:"Mounts"`
				Configs []swarmFileRef `json:"Configs"`
				Secrets []swarmFileRef `json:"Secrets"`
			} `json:"ContainerSpec"`
			RestartPolicy *struct {
				Condition   string  `json:"Condition"`
				Delay       *int64  `json:"Delay"`
				MaxAttempts *uint64 `json:"MaxAttempts"`
				Window      *int64  `json:"Window"`
			} `json:"RestartPolicy"`
			Placement *struct {
				Constraints []string `json:"Constraints"`
				Preferences []struct {
					Spread struct {
						SpreadDescriptor string `json:"SpreadDescriptor"`
					} `json:"Spread"`
				} `json:"Preferences"`
				MaxReplicas uint64 `json:"MaxReplicas"`
				Platforms   []struct {
					Architecture string `json:"Architecture"`
					OS           string `json:"OS"`
				} `json:"Platforms"`
			} `json:"Placement"`
			Networks []struct {
				Target     string            `json:"Target"`
				Aliases    []string          `json:"Aliases"`
				DriverOpts map[string]string `json:"DriverOpts"`
			} `json:"Networks"`
			ForceUpdate uint64 `json:"ForceUpdate"`
			Runtime     string `json:"Runtime"`
		} `json:"TaskTemplate"`
		Mode struct {
			Replicated *struct {
				Replicas *uint64 `json:"Replicas"`
			} `json:"Replicated"`
			Global *struct{} `json:"Global"`
		} `json:"Mode"`
		UpdateConfig   *swarmUpdateConfig `json:"UpdateConfig"`
		RollbackConfig *swarmUpdateConfig `json:"RollbackConfig"`
		EndpointSpec   *struct {
			Mode  string          `json:"Mode"`
			Ports []swarmPortConf `json:"Ports"`
		} `json:"EndpointSpec"`
	} `json:"Spec"`
	Endpoint struct {
		Spec struct {
			Mode string `json:"Mode"`
		} `json:"Spec"`
		Ports []swarmPortConf `json:"Ports"`
	} `json:"Endpoint"`
	UpdateStatus *struct {
		State   string `json:"State"`
		Message string `json:"Message"`
	} `json:"UpdateStatus"`
}

type swarmFileRef struct {
	ConfigID   string `json:"ConfigID"`
	ConfigName string `json:"ConfigName"`
	SecretID   string `json:"SecretID"`
	SecretName string `json:"SecretName"`
	File       *struct {
		Name string `json:"Name"`
		UID  string `json:"UID"`
		GID  string `json:"GID"`
		Mode uint32 `json:"Mode"`
	} `json:"File"`
}

type swarmUpdateConfig struct {
	Parallelism     uint64  `json:"Parallelism"`
	Delay           int64   `json:"Delay"`
	FailureAction   string  `json:"FailureAction"`
	Monitor         int64   `json:"Monitor"`
	MaxFailureRatio float32 `json:"MaxFailureRatio"`
	Order           string  `json:"Order"`
}

type swarmPortConf struct {
	Name          string `json:"Name"`
	Protocol      string `json:"Protocol"`
	TargetPort    uint32 `json:"TargetPort"`
	PublishedPort uint32 `json:"PublishedPort"`
	PublishMode   string `json:"PublishMode"`
}

// shortDur is upstream's: Duration.String() without a trailing "0s" after minutes or "0m" after
// hours ("1m", "1h", "1m30s", "0s").
func shortDur(ns int64) string {
	s := time.Duration(ns).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ratioString: upstream reads max_failure_ratio back with one decimal (a float32 widened).
func ratioString(r float32) string { return strconv.FormatFloat(float64(r), 'f', 1, 64) }

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

// ---- Service: CRUD --------------------------------------------------------------------------

// conflict messages as the Terraform SDK words a ConflictsWith failure.
func (serviceKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if m := obj(news["mode"]); m != nil && getBool(m, "global") {
		if c, ok := news["convergeConfig"]; ok && !c.IsNull() {
			return nil, errors.New(`"mode.0.global": conflicts with converge_config`)
		}
		if _, ok := m["replicated"]; ok {
			return nil, errors.New(`"mode.0.global": conflicts with mode.0.replicated`)
		}
	}
	if v, ok := news["taskSpec"]; !ok || v.IsNull() {
		return nil, errors.New("Missing required argument: taskSpec")
	}
	return checkNamed(serviceSchema, urn, olds, news)
}

func inspectService(ctx context.Context, e *engine, id string) (*swarmService, error) {
	var s swarmService
	if err := e.call(ctx, http.MethodGet, "/services/"+url.PathEscape(id), url.Values{"insertDefaults": {"false"}}, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (k serviceKind) create(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", serviceOutputs(news, nil), nil
	}
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	spec := serviceSpec(news)
	image := spec["TaskTemplate"].(map[string]any)["ContainerSpec"].(map[string]any)["Image"].(string)
	auth := serviceAuth(p, image)
	spec["TaskTemplate"].(map[string]any)["ContainerSpec"].(map[string]any)["Image"] = tagged(image)
	pinImage(ctx, e, spec, auth)
	var created struct {
		ID string `json:"ID"`
	}
	resp, err := e.do(ctx, http.MethodPost, "/services/create", nil, jsonBody(spec), map[string]string{"X-Registry-Auth": auth})
	if err != nil {
		return "", nil, err
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil {
		return "", nil, err
	}
	if cc := obj(news["convergeConfig"]); cc != nil {
		timeout := time.Duration(dur(getStr(cc, "timeout")))
		p.logStatus(ctx, urn, fmt.Sprintf("waiting up to %s for service %s to converge", getStr(cc, "timeout"), spec["Name"]))
		if err := convergeCreate(ctx, e, created.ID, time.Duration(dur(getStr(cc, "delay"))), timeout); err != nil {
			// As upstream: a service that does not converge is deleted.
			if derr := deleteService(ctx, e, created.ID, news); derr != nil {
				return "", nil, errors.New(tfErrors(derr))
			}
			return "", nil, errors.New(tfErrors(err))
		}
	}
	s, err := inspectService(ctx, e, created.ID)
	if err != nil {
		return "", nil, err
	}
	return created.ID, orderSets(serviceOutputs(news, s)), nil
}

func jsonBody(v any) *strings.Reader {
	data, _ := json.Marshal(v)
	return strings.NewReader(string(data))
}

type didNotConverge struct {
	id      string
	timeout time.Duration
}

func (d didNotConverge) Error() string {
	return "Service with ID (" + d.id + ") did not converge after " + d.timeout.String()
}

// pollConverge is the Terraform SDK's StateChangeConf as upstream sets it: wait `delay`, then
// ask every 5 s (MinTimeout) until done, an error, or the timeout.
func pollConverge(ctx context.Context, id string, delay, timeout time.Duration, step func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(delay):
	}
	for {
		done, err := step()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().Add(5 * time.Second).After(deadline) {
			return didNotConverge{id, timeout}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

type swarmTask struct {
	Slot         int    `json:"Slot"`
	NodeID       string `json:"NodeID"`
	DesiredState string `json:"DesiredState"`
	Status       struct {
		State           string `json:"State"`
		ContainerStatus *struct {
			ContainerID string `json:"ContainerID"`
		} `json:"ContainerStatus"`
	} `json:"Status"`
}

var taskStateOrder = map[string]int{"new": 1, "allocated": 2, "pending": 3, "assigned": 4, "accepted": 5,
	"preparing": 6, "ready": 7, "starting": 8, "running": 9, "complete": 10, "shutdown": 11, "failed": 12, "rejected": 13}

// allRunning is upstream's replicatedConsoleLogUpdater: one task per slot (the lowest desired
// state, then the lowest observed), on nodes not down; done when as many run as there are replicas.
func allRunning(ctx context.Context, e *engine, s *swarmService) (bool, error) {
	if s.Spec.Mode.Replicated == nil || s.Spec.Mode.Replicated.Replicas == nil {
		return false, errors.New("no replica count")
	}
	filters, _ := json.Marshal(map[string][]string{"service": {s.ID}, "desired-state": {"running"}})
	var tasks []swarmTask
	if err := e.call(ctx, http.MethodGet, "/tasks", url.Values{"filters": {string(filters)}}, nil, &tasks); err != nil {
		return false, err
	}
	var nodes []struct {
		ID     string `json:"ID"`
		Status struct {
			State string `json:"State"`
		} `json:"Status"`
	}
	if err := e.call(ctx, http.MethodGet, "/nodes", nil, nil, &nodes); err != nil {
		return false, err
	}
	active := map[string]bool{}
	for _, n := range nodes {
		if n.Status.State != "down" {
			active[n.ID] = true
		}
	}
	bySlot := map[int]swarmTask{}
	for _, t := range tasks {
		if taskStateOrder[t.DesiredState] == 0 || taskStateOrder[t.Status.State] == 0 {
			continue
		}
		if ex, ok := bySlot[t.Slot]; ok {
			if taskStateOrder[ex.DesiredState] < taskStateOrder[t.DesiredState] {
				continue
			}
			if taskStateOrder[ex.DesiredState] == taskStateOrder[t.DesiredState] &&
				taskStateOrder[ex.Status.State] <= taskStateOrder[t.Status.State] {
				continue
			}
		}
		if t.NodeID != "" && !active[t.NodeID] {
			continue
		}
		bySlot[t.Slot] = t
	}
	var running uint64
	for _, t := range bySlot {
		if taskStateOrder[t.DesiredState] <= taskStateOrder["running"] && t.Status.State == "running" {
			running++
		}
	}
	return running == *s.Spec.Mode.Replicated.Replicas, nil
}

func convergeCreate(ctx context.Context, e *engine, id string, delay, timeout time.Duration) error {
	return pollConverge(ctx, id, delay, timeout, func() (bool, error) {
		s, err := inspectService(ctx, e, id)
		if err != nil {
			return false, err
		}
		return allRunning(ctx, e, s)
	})
}

// convergeUpdate: upstream's update refresh, with its hard-coded 7 s delay.
func convergeUpdate(ctx context.Context, e *engine, id string, timeout time.Duration) error {
	return pollConverge(ctx, id, 7*time.Second, timeout, func() (bool, error) {
		s, err := inspectService(ctx, e, id)
		if err != nil {
			return false, err
		}
		rollback := false
		if u := s.UpdateStatus; u != nil {
			switch u.State {
			case "completed":
				return true, nil
			case "rollback_started":
				rollback = true
			case "rollback_completed":
				return false, fmt.Errorf("service rollback completed: %s", u.Message)
			case "paused":
				return false, fmt.Errorf("service update paused: %s", u.Message)
			case "rollback_paused":
				return false, fmt.Errorf("service rollback paused: %s", u.Message)
			}
		}
		done, err := allRunning(ctx, e, s)
		if err != nil || !done {
			return false, err
		}
		if rollback {
			return false, fmt.Errorf("service rollback completed: %s", s.UpdateStatus.Message)
		}
		return true, nil
	})
}

func (serviceKind) update(ctx context.Context, p *dockerProvider, urn resource.URN, id string, olds, news resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	if preview {
		return serviceOutputs(news, nil), nil
	}
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	cur, err := inspectService(ctx, e, id)
	if err != nil {
		return nil, err
	}
	spec := serviceSpec(news)
	keepComputedPlacement(spec, olds, news)
	c := spec["TaskTemplate"].(map[string]any)["ContainerSpec"].(map[string]any)
	auth := serviceAuth(p, c["Image"].(string))
	c["Image"] = tagged(c["Image"].(string)) // no QueryRegistry on update, as upstream
	q := url.Values{"version": {strconv.FormatUint(cur.Version.Index, 10)}}
	resp, err := e.do(ctx, http.MethodPost, "/services/"+url.PathEscape(id)+"/update", q, jsonBody(spec),
		map[string]string{"X-Registry-Auth": auth})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	var convergeErr error
	if cc := obj(news["convergeConfig"]); cc != nil {
		convergeErr = convergeUpdate(ctx, e, id, time.Duration(dur(getStr(cc, "timeout"))))
	}
	s, err := inspectService(ctx, e, id)
	if err != nil {
		return nil, err
	}
	outs := serviceUpdated(news, s)
	if convergeErr != nil {
		// As upstream: the state records the new inputs, and outputs with the declared values
		// (not what Swarm rolled back to), with the error; the engine keeps it as an init error
		// and plans an update on the next run. The bridge's wording around the message.
		reason := fmt.Sprintf("updating %s: %s", urn, tfErrors(convergeErr))
		return nil, &partialFailure{err: errors.New(tfErrors(errors.New(reason))), reason: reason,
			outs: orderSets(plannedNoCopy(overlay(outs, serviceOutputs(news, s), news)))}
	}
	return outs, nil
}

// keepComputedPlacement: an undeclared placement is Computed, so the SDK plans the prior
// state's value and upstream's update sends it, with the platforms the create pinned from the
// registry (recorded on upstream: they stay in the spec and read back after an update).
func keepComputedPlacement(spec map[string]any, olds, news resource.PropertyMap) {
	if getObj(obj(news["taskSpec"]), "placement") != nil {
		return
	}
	prior := getObj(obj(olds["taskSpec"]), "placement")
	if prior == nil {
		return
	}
	pl := spec["TaskTemplate"].(map[string]any)["Placement"].(map[string]any)
	pl["Constraints"] = strList(getList(prior, "constraints"))
	pl["MaxReplicas"] = getNum(prior, "maxReplicas")
	var plats []any
	for _, e := range getList(prior, "platforms") {
		m, _ := e.(map[string]any)
		plats = append(plats, map[string]any{"Architecture": getStr(m, "architecture"), "OS": getStr(m, "os")})
	}
	if len(plats) > 0 {
		pl["Platforms"] = plats
	}
	var prefs []any
	for _, d := range strList(getList(prior, "prefs")) {
		prefs = append(prefs, map[string]any{"Spread": map[string]any{"SpreadDescriptor": d}})
	}
	if len(prefs) > 0 {
		pl["Preferences"] = prefs
	}
}

// serviceUpdated: upstream's state after an update is its Read, except that the declared
// networksAdvanceds stay as planned (recorded: name kept, id "").
func serviceUpdated(news resource.PropertyMap, s *swarmService) resource.PropertyMap {
	planned := serviceOutputs(news, s)
	outs := serviceRead(planned, s)
	ts := objOrNil(outs["taskSpec"]).Copy()
	ts["networksAdvanceds"] = objOrNil(planned["taskSpec"])["networksAdvanceds"]
	outs["taskSpec"] = resource.NewObjectProperty(ts)
	return orderSets(outs)
}

// partialFailure: an update that changed the object but failed afterwards.
type partialFailure struct {
	err    error
	reason string
	outs   resource.PropertyMap
}

// tfErrors: how the bridge words a Terraform diagnostic (a go-multierror list).
func tfErrors(err error) string { return fmt.Sprintf("1 error occurred:\n\t* %s\n\n", err) }

// overlay: base with the planned value of every field the inputs declare.
func overlay(base, planned, declared resource.PropertyMap) resource.PropertyMap {
	out := base.Copy()
	for k, d := range declared {
		if k == defaultsKey || d.IsNull() {
			continue
		}
		p, b := planned[k], out[k]
		if d.IsObject() && p.IsObject() && b.IsObject() && !isMapValue(d) {
			out[k] = resource.NewObjectProperty(overlay(b.ObjectValue(), p.ObjectValue(), d.ObjectValue()))
		} else {
			out[k] = p
		}
	}
	return out
}

// isMapValue: a map input (env, driverOptions) is replaced whole, not merged.
func isMapValue(v resource.PropertyValue) bool {
	for _, e := range v.ObjectValue() {
		if !e.IsString() {
			return false
		}
	}
	_, nested := v.ObjectValue()[defaultsKey]
	return !nested
}

// plannedNoCopy: in the planned state a failed update records, a mount's undeclared
// volumeOptions.noCopy is false, not null (recorded on upstream: the e2e's rolled-back rollout).
func plannedNoCopy(outs resource.PropertyMap) resource.PropertyMap {
	ts := outs["taskSpec"]
	if !ts.IsObject() {
		return outs
	}
	cs := ts.ObjectValue()["containerSpec"]
	if !cs.IsObject() || !cs.ObjectValue()["mounts"].IsArray() {
		return outs
	}
	for _, m := range cs.ObjectValue()["mounts"].ArrayValue() {
		if !m.IsObject() {
			continue
		}
		vo := m.ObjectValue()["volumeOptions"]
		if vo.IsObject() && vo.ObjectValue()["noCopy"].IsNull() {
			vo.ObjectValue()["noCopy"] = boolean(false)
		}
	}
	return outs
}

func (f *partialFailure) Error() string { return f.err.Error() }

// deleteService is upstream's: with a stop grace period other than 0s, the service's containers
// on the provider's engine are waited for (up to that period) and removed after the service.
func deleteService(ctx context.Context, e *engine, id string, state resource.PropertyMap) error {
	grace := getStr(getObj(obj(state["taskSpec"]), "containerSpec"), "stopGracePeriod")
	wait := grace != "" && grace != "0s"
	var containers []string
	if wait {
		name, _ := plain(state["name"]).(string)
		filters, _ := json.Marshal(map[string][]string{"service": {name}})
		var tasks []swarmTask
		if err := e.call(ctx, http.MethodGet, "/tasks", url.Values{"filters": {string(filters)}}, nil, &tasks); err != nil {
			return err
		}
		for _, t := range tasks {
			if t.Status.ContainerStatus != nil && strings.TrimSpace(t.Status.ContainerStatus.ContainerID) != "" &&
				t.Status.State != "shutdown" {
				containers = append(containers, t.Status.ContainerStatus.ContainerID)
			}
		}
	}
	if err := e.call(ctx, http.MethodDelete, "/services/"+url.PathEscape(id), nil, nil, nil); err != nil {
		return fmt.Errorf("Error deleting service with ID '%s': %s", id, err)
	}
	for _, cid := range containers {
		wctx, cancel := context.WithTimeout(ctx, time.Duration(dur(grace)))
		err := e.call(wctx, http.MethodPost, "/containers/"+cid+"/wait", url.Values{"condition": {"removed"}}, nil, nil)
		cancel()
		if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
			return fmt.Errorf("error on wait for container with ID '%s': %v", cid, err)
		}
		err = e.call(ctx, http.MethodDelete, "/containers/"+cid, url.Values{"v": {"1"}, "force": {"1"}}, nil, nil)
		if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") &&
			!strings.Contains(err.Error(), "is already in progress") {
			return fmt.Errorf("Error deleting container with ID '%s': %s", cid, err)
		}
	}
	return nil
}

func (serviceKind) delete(ctx context.Context, p *dockerProvider, _ resource.URN, id string, olds resource.PropertyMap) error {
	e, err := p.engine()
	if err != nil {
		return err
	}
	return deleteService(ctx, e, id, olds)
}

// read: upstream finds the service by id or by name; none: gone.
func (serviceKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var list []swarmService
	if err := e.call(ctx, http.MethodGet, "/services", nil, nil, &list); err != nil {
		return nil, fmt.Errorf("Error fetching service information from Docker: %s", err)
	}
	name, _ := plain(state["name"]).(string)
	found := ""
	for _, s := range list {
		if s.ID == id || s.Spec.Name == name {
			found = s.ID
			break
		}
	}
	if found == "" {
		return nil, nil
	}
	s, err := inspectService(ctx, e, found)
	if err != nil {
		return nil, fmt.Errorf("Error inspecting service %s: %s", found, err)
	}
	return orderSets(serviceRead(state, s)), nil
}

// readInputs: the bridge extracts the refreshed inputs from Read's outputs: a networksAdvanceds
// element's name becomes the one Read recorded (""), which the next plan sees as a replacement.
func (serviceKind) readInputs(inputs, outs resource.PropertyMap) resource.PropertyMap {
	in := obj(inputs["taskSpec"])
	outNets := getList(obj(outs["taskSpec"]), "networksAdvanceds")
	if in == nil || len(getList(in, "networksAdvanceds")) == 0 {
		return inputs
	}
	inputs = inputs.Copy()
	ts := inputs["taskSpec"].ObjectValue().Copy()
	var items []resource.PropertyValue
	for i, n := range ts["networksAdvanceds"].ArrayValue() {
		if n.IsObject() && i < len(outNets) {
			m := n.ObjectValue().Copy()
			if _, has := m["name"]; has {
				m["name"] = str(getStr(outNets[i].(map[string]any), "name"))
			}
			n = resource.NewObjectProperty(m)
		}
		items = append(items, n)
	}
	ts["networksAdvanceds"] = resource.NewArrayProperty(items)
	inputs["taskSpec"] = resource.NewObjectProperty(ts)
	return inputs
}

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
