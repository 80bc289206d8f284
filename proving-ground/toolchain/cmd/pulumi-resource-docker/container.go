package main

// docker:index/container:Container.
//
// Inputs (see `verified` in main.go): name, image, command, envs, user, labels [{label, value}],
// ports [{internal, external, ip}], volumes [{containerPath, volumeName, readOnly}],
// networksAdvanced [{name, aliases}], restart, healthcheck {tests, interval, timeout,
// startPeriod, retries}, stopSignal, destroyGraceSeconds, uploads [{file, content}], wait,
// waitTimeout. Check fills upstream's defaults (containerReadRefreshTimeoutMilliseconds,
// mustRun, networkMode "bridge", removeVolumes, restart, start, waitTimeout, ports.protocol,
// the healthcheck's zero durations) and lists them in `__defaults`, as the bridge does.
//
// As upstream (Terraform docker_container): changing a ForceNew field replaces the container;
// the others (updateKeys) are updates. The state is what upstream's Read takes from the engine
// (containerState), and Diff plans the declared inputs against it: a value the engine reports
// differently (a duration written "60s" read back as "1m0s") is a diff on every preview. With a
// fixed name the old container is removed before the new one is created. As upstream, the
// container is created in networkMode, taken off the default bridge and attached to each
// networksAdvanced network before it starts.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

type containerArgs struct {
	Name        string     `json:"name"`
	Image       string     `json:"image"`
	Command     []string   `json:"command"`
	Entrypoints []string   `json:"entrypoints"`
	Envs        []string   `json:"envs"`
	User        string     `json:"user"`
	WorkingDir  string     `json:"workingDir"`
	Hostname    string     `json:"hostname"`
	Domainname  string     `json:"domainname"`
	Labels      []labelArg `json:"labels"`
	Ports       []struct {
		Internal int    `json:"internal"`
		External int    `json:"external"`
		IP       string `json:"ip"`
		Protocol string `json:"protocol"`
	} `json:"ports"`
	Volumes []struct {
		ContainerPath string `json:"containerPath"`
		HostPath      string `json:"hostPath"`
		VolumeName    string `json:"volumeName"`
		ReadOnly      bool   `json:"readOnly"`
	} `json:"volumes"`
	NetworksAdvanced []struct {
		Name        string   `json:"name"`
		Aliases     []string `json:"aliases"`
		Ipv4Address string   `json:"ipv4Address"`
		Ipv6Address string   `json:"ipv6Address"`
	} `json:"networksAdvanced"`
	NetworkMode   string `json:"networkMode"`
	Restart       string `json:"restart"`
	MaxRetryCount int    `json:"maxRetryCount"`
	Healthcheck   *struct {
		Tests         []string `json:"tests"`
		Interval      string   `json:"interval"`
		Timeout       string   `json:"timeout"`
		StartPeriod   string   `json:"startPeriod"`
		StartInterval string   `json:"startInterval"`
		Retries       int      `json:"retries"`
	} `json:"healthcheck"`
	StopSignal          string `json:"stopSignal"`
	StopTimeout         *int   `json:"stopTimeout"`
	DestroyGraceSeconds int    `json:"destroyGraceSeconds"`
	Uploads             []struct {
		File          string `json:"file"`
		Content       string `json:"content"`
		ContentBase64 string `json:"contentBase64"`
		Executable    bool   `json:"executable"`
		Source        string `json:"source"`
	} `json:"uploads"`
	Wait          bool              `json:"wait"`
	WaitTimeout   *int              `json:"waitTimeout"`
	MustRun       *bool             `json:"mustRun"`
	Start         *bool             `json:"start"`
	RemoveVolumes *bool             `json:"removeVolumes"`
	LogDriver     string            `json:"logDriver"`
	LogOpts       map[string]string `json:"logOpts"`
	Privileged    bool              `json:"privileged"`
	ReadOnly      bool              `json:"readOnly"`
	Tmpfs         map[string]string `json:"tmpfs"`
	ShmSize       int64             `json:"shmSize"`
	Memory        int64             `json:"memory"`
	MemorySwap    int64             `json:"memorySwap"`
	CPUShares     int64             `json:"cpuShares"`
	Init          bool              `json:"init"`
	Capabilities  *struct {
		Adds  []string `json:"adds"`
		Drops []string `json:"drops"`
	} `json:"capabilities"`
	GroupAdds   []string `json:"groupAdds"`
	DNS         []string `json:"dns"`
	DNSOpts     []string `json:"dnsOpts"`
	DNSSearches []string `json:"dnsSearches"`
	Hosts       []struct {
		Host string `json:"host"`
		IP   string `json:"ip"`
	} `json:"hosts"`
	Sysctls      map[string]string `json:"sysctls"`
	SecurityOpts []string          `json:"securityOpts"`
	Ulimits      []struct {
		Name string `json:"name"`
		Soft int64  `json:"soft"`
		Hard int64  `json:"hard"`
	} `json:"ulimits"`
	PublishAllPorts bool `json:"publishAllPorts"`
}

type containerInspect struct {
	ID       string `json:"Id"`
	Name     string `json:"Name"`
	Image    string `json:"Image"`
	Platform string `json:"Platform"`
	Config   struct {
		Tty         bool     `json:"Tty"`
		OpenStdin   bool     `json:"OpenStdin"`
		Image       string   `json:"Image"`
		Cmd         []string `json:"Cmd"`
		Entrypoint  []string `json:"Entrypoint"`
		User        string   `json:"User"`
		Hostname    string   `json:"Hostname"`
		Domainname  string   `json:"Domainname"`
		WorkingDir  string   `json:"WorkingDir"`
		StopSignal  string   `json:"StopSignal"`
		StopTimeout *int     `json:"StopTimeout"`
		Healthcheck *struct {
			Test          []string      `json:"Test"`
			Interval      time.Duration `json:"Interval"`
			Timeout       time.Duration `json:"Timeout"`
			StartPeriod   time.Duration `json:"StartPeriod"`
			StartInterval time.Duration `json:"StartInterval"`
			Retries       int           `json:"Retries"`
		} `json:"Healthcheck"`
	} `json:"Config"`
	HostConfig struct {
		NetworkMode   string `json:"NetworkMode"`
		RestartPolicy struct {
			Name              string `json:"Name"`
			MaximumRetryCount int    `json:"MaximumRetryCount"`
		} `json:"RestartPolicy"`
		Privileged      bool  `json:"Privileged"`
		ReadonlyRootfs  bool  `json:"ReadonlyRootfs"`
		Init            *bool `json:"Init"`
		PublishAllPorts bool  `json:"PublishAllPorts"`
		LogConfig       struct {
			Type   string            `json:"Type"`
			Config map[string]string `json:"Config"`
		} `json:"LogConfig"`
		IpcMode           string            `json:"IpcMode"`
		Runtime           string            `json:"Runtime"`
		CpusetCpus        string            `json:"CpusetCpus"`
		UsernsMode        string            `json:"UsernsMode"`
		StorageOpt        map[string]string `json:"StorageOpt"`
		AutoRemove        bool              `json:"AutoRemove"`
		MemoryReservation int64             `json:"MemoryReservation"`
		NanoCPUs          int64             `json:"NanoCpus"`
		Memory            int64             `json:"Memory"`
		MemorySwap        int64             `json:"MemorySwap"`
		ShmSize           int64             `json:"ShmSize"`
		CPUShares         int64             `json:"CpuShares"`
		DNS               []string          `json:"Dns"`
		DNSOptions        []string          `json:"DnsOptions"`
		DNSSearch         []string          `json:"DnsSearch"`
		SecurityOpt       []string          `json:"SecurityOpt"`
		GroupAdd          []string          `json:"GroupAdd"`
		Sysctls           map[string]string `json:"Sysctls"`
		Tmpfs             map[string]string `json:"Tmpfs"`
		CapAdd            []string          `json:"CapAdd"`
		CapDrop           []string          `json:"CapDrop"`
		ExtraHosts        []string          `json:"ExtraHosts"`
		Ulimits           []struct {
			Name string `json:"Name"`
			Soft int64  `json:"Soft"`
			Hard int64  `json:"Hard"`
		} `json:"Ulimits"`
	} `json:"HostConfig"`
	State struct {
		Status   string `json:"Status"`
		Running  bool   `json:"Running"`
		ExitCode int    `json:"ExitCode"`
		Error    string `json:"Error"`
		Health   *struct {
			Status string `json:"Status"`
			Log    []struct {
				ExitCode int    `json:"ExitCode"`
				Output   string `json:"Output"`
			} `json:"Log"`
		} `json:"Health"`
	} `json:"State"`
	NetworkSettings struct {
		Bridge string `json:"Bridge"`
		Ports  map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string `json:"HostPort"`
		} `json:"Ports"`
		Networks map[string]struct {
			IPAddress           string `json:"IPAddress"`
			IPPrefixLen         int    `json:"IPPrefixLen"`
			Gateway             string `json:"Gateway"`
			MacAddress          string `json:"MacAddress"`
			GlobalIPv6Address   string `json:"GlobalIPv6Address"`
			GlobalIPv6PrefixLen int    `json:"GlobalIPv6PrefixLen"`
			IPv6Gateway         string `json:"IPv6Gateway"`
		} `json:"Networks"`
	} `json:"NetworkSettings"`
}

type containerKind struct{}

func (containerKind) supported() []string {
	return []string{"name", "image", "command", "entrypoints", "envs", "user", "workingDir", "hostname",
		"domainname", "labels", "ports", "volumes", "networksAdvanced", "networkMode", "restart",
		"maxRetryCount", "healthcheck", "stopSignal", "stopTimeout", "destroyGraceSeconds", "uploads",
		"wait", "waitTimeout", "mustRun", "start", "removeVolumes", "logDriver", "logOpts", "privileged",
		"readOnly", "tmpfs", "shmSize", "memory", "memorySwap", "cpuShares", "init", "capabilities",
		"groupAdds", "dns", "dnsOpts", "dnsSearches", "hosts", "sysctls", "securityOpts", "ulimits",
		"publishAllPorts", "containerReadRefreshTimeoutMilliseconds"}
}

// The fields the upstream schema does not mark ForceNew: changing them is an update. Of these,
// restart, maxRetryCount, memory, memorySwap and cpuShares are applied to the container; the rest
// are state only (as upstream: a changed healthcheck, init or tmpfs is recorded as planned but
// not applied; a later refresh reads back the running container's value).
func (containerKind) updateKeys() []string {
	return []string{"destroyGraceSeconds", "wait", "waitTimeout", "mustRun", "removeVolumes",
		"restart", "maxRetryCount", "memory", "memorySwap", "cpuShares", "start", "healthcheck",
		"init", "tmpfs", "containerReadRefreshTimeoutMilliseconds"}
}

// The upstream schema's set-typed fields (compared without order).
func (containerKind) setKeys() map[string]bool {
	return map[string]bool{"labels": true, "volumes": true, "networksAdvanced": true, "uploads": true,
		"envs": true, "hosts": true, "ulimits": true, "dns": true, "dnsOpts": true, "dnsSearches": true,
		"securityOpts": true, "groupAdds": true, "capabilities": true}
}

// The upstream schema's Optional+Computed set fields (see computedSetter).
func (containerKind) computedSetKeys() map[string]bool {
	return map[string]bool{"envs": true, "labels": true, "securityOpts": true}
}

var containerSchema = &block{
	defaults: []fieldDefault{
		{"containerReadRefreshTimeoutMilliseconds", num(15000)}, {"mustRun", boolean(true)},
		{"networkMode", str("bridge")}, {"removeVolumes", boolean(true)}, {"restart", str("no")},
		{"start", boolean(true)}, {"waitTimeout", num(60)},
	},
	nested: map[string]*block{
		"labels": emptyBlock(), "capabilities": emptyBlock(), "hosts": emptyBlock(), "ulimits": emptyBlock(),
		"networksAdvanced": {outZero: map[string]resource.PropertyValue{
			"driverOpts": emptyList(), "gwPriority": null(), "ipv4Address": str(""), "ipv6Address": str(""),
			"linkLocalIps": emptyList(), "macAddress": str(""),
		}},
		"volumes": {outZero: map[string]resource.PropertyValue{
			"fromContainer": str(""), "hostPath": str(""), "readOnly": null(), "selinuxRelabel": str(""),
		}},
		"uploads": {outZero: map[string]resource.PropertyValue{
			"contentBase64": str(""), "executable": boolean(false), "permissions": str(""), "source": str(""),
			"sourceHash": str(""),
		}},
		"ports": {defaults: []fieldDefault{{"protocol", str("tcp")}}},
		"healthcheck": {defaults: []fieldDefault{
			{"interval", str("0s")}, {"startInterval", str("0s")}, {"startPeriod", str("0s")}, {"timeout", str("0s")},
		}},
	},
}

func (containerKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}

func (containerKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if v, ok := news["image"]; !ok || v.IsNull() {
		return nil, errors.New("Container: image is required")
	}
	var a containerArgs
	if err := decode(news, &a); err != nil {
		return nil, fmt.Errorf("Container: %w", err)
	}
	switch a.Restart {
	case "", "no", "on-failure", "always", "unless-stopped":
	default:
		return nil, fmt.Errorf("Container: restart must be one of no, on-failure, always, unless-stopped; got %q", a.Restart)
	}
	if a.Healthcheck != nil {
		for _, d := range []string{a.Healthcheck.Interval, a.Healthcheck.Timeout, a.Healthcheck.StartPeriod, a.Healthcheck.StartInterval} {
			if _, err := parseDuration(d); err != nil {
				return nil, fmt.Errorf("Container: healthcheck: %w", err)
			}
		}
	}
	for _, u := range a.Uploads {
		if u.File == "" {
			return nil, errors.New("Container: uploads[].file is required")
		}
	}
	return checkNamed(containerSchema, urn, olds, news)
}

func parseDuration(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return int64(d), nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func (k containerKind) create(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", withOutputs(containerSchema.outputs(news), map[string]resource.PropertyValue{
			"networkDatas": computed(), "exitCode": computed(), "bridge": computed(),
		}), nil
	}
	var a containerArgs
	if err := decode(news, &a); err != nil {
		return "", nil, err
	}
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	id, err := k.createContainer(ctx, p, e, urn, &a)
	if err != nil {
		return "", nil, err
	}
	ci, err := k.startContainer(ctx, p, e, urn, id, &a)
	if err != nil {
		// Leave nothing behind: the next `up` creates it afresh.
		_ = removeContainer(ctx, e, id, 0, true)
		return "", nil, err
	}
	return id, containerState(news, ci), nil
}

// containerState is the state upstream records: the inputs in the state's shape, overlaid with
// what its Read takes from the engine (resourceDockerContainerRead in the Terraform provider).
func containerState(inputs resource.PropertyMap, ci *containerInspect) resource.PropertyMap {
	out := containerSchema.outputs(inputs)
	set := func(k string, v resource.PropertyValue) { out[resource.PropertyKey(k)] = v }
	strs := func(l []string) resource.PropertyValue {
		if l == nil {
			return null()
		}
		items := make([]resource.PropertyValue, 0, len(l))
		for _, s := range l {
			items = append(items, str(s))
		}
		return resource.NewArrayProperty(items)
	}
	var datas []resource.PropertyValue
	for name, n := range ci.NetworkSettings.Networks {
		datas = append(datas, resource.NewObjectProperty(resource.PropertyMap{
			"networkName":            str(name),
			"ipAddress":              str(n.IPAddress),
			"ipPrefixLength":         num(float64(n.IPPrefixLen)),
			"gateway":                str(n.Gateway),
			"macAddress":             str(n.MacAddress),
			"globalIpv6Address":      str(n.GlobalIPv6Address),
			"globalIpv6PrefixLength": num(float64(n.GlobalIPv6PrefixLen)),
			"ipv6Gateway":            str(n.IPv6Gateway),
		}))
	}
	set("networkDatas", resource.NewArrayProperty(datas))
	set("bridge", str(ci.NetworkSettings.Bridge))
	set("exitCode", null())
	if !ci.State.Running {
		set("exitCode", num(float64(ci.State.ExitCode)))
	}
	if _, has := inputs["ports"]; has && (ci.State.Running || boolOr(boolInput(inputs, "mustRun"), true)) {
		keys := make([]string, 0, len(ci.NetworkSettings.Ports))
		for k := range ci.NetworkSettings.Ports {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ports []resource.PropertyValue
		for _, k := range keys {
			internal, proto, _ := strings.Cut(k, "/")
			in, _ := strconv.Atoi(internal)
			for _, b := range ci.NetworkSettings.Ports[k] {
				ext, _ := strconv.Atoi(b.HostPort)
				ports = append(ports, resource.NewObjectProperty(resource.PropertyMap{
					"internal": num(float64(in)), "external": num(float64(ext)), "ip": str(b.HostIP),
					"protocol": str(proto),
				}))
			}
		}
		set("ports", resource.NewArrayProperty(ports))
	}
	set("name", str(strings.TrimPrefix(ci.Name, "/")))
	if img, _ := plain(inputs["image"]).(string); strings.HasPrefix(img, "sha256:") {
		set("image", str(ci.Image))
	} else {
		set("image", str(ci.Config.Image))
	}
	set("readOnly", boolean(ci.HostConfig.ReadonlyRootfs))
	set("hostname", str(ci.Config.Hostname))
	set("domainname", str(ci.Config.Domainname))
	set("command", strs(ci.Config.Cmd))
	set("entrypoints", strs(ci.Config.Entrypoint))
	set("user", str(ci.Config.User))
	// Optional (not Computed) sets: an engine's empty list is recorded as null, as upstream does.
	orNull := func(l []string) resource.PropertyValue {
		if len(l) == 0 {
			return null()
		}
		return strs(l)
	}
	set("dns", orNull(ci.HostConfig.DNS))
	set("dnsOpts", orNull(ci.HostConfig.DNSOptions))
	set("securityOpts", strs(ci.HostConfig.SecurityOpt))
	set("dnsSearches", orNull(ci.HostConfig.DNSSearch))
	set("publishAllPorts", boolean(ci.HostConfig.PublishAllPorts))
	set("restart", str(ci.HostConfig.RestartPolicy.Name))
	set("maxRetryCount", num(float64(ci.HostConfig.RestartPolicy.MaximumRetryCount)))
	set("init", boolean(ci.HostConfig.Init != nil && *ci.HostConfig.Init))
	set("workingDir", str(ci.Config.WorkingDir))
	if len(ci.HostConfig.CapAdd) > 0 || len(ci.HostConfig.CapDrop) > 0 {
		set("capabilities", resource.NewObjectProperty(resource.PropertyMap{
			"adds": strs(ci.HostConfig.CapAdd), "drops": strs(ci.HostConfig.CapDrop),
		}))
	}
	set("tmpfs", stringMap(ci.HostConfig.Tmpfs))
	var hosts []resource.PropertyValue
	for _, h := range ci.HostConfig.ExtraHosts {
		host, ip, _ := strings.Cut(h, ":")
		hosts = append(hosts, resource.NewObjectProperty(resource.PropertyMap{"host": str(host), "ip": str(ip)}))
	}
	set("hosts", resource.NewArrayProperty(hosts))
	if _, has := inputs["ulimits"]; has {
		var ul []resource.PropertyValue
		for _, u := range ci.HostConfig.Ulimits {
			ul = append(ul, resource.NewObjectProperty(resource.PropertyMap{
				"name": str(u.Name), "soft": num(float64(u.Soft)), "hard": num(float64(u.Hard)),
			}))
		}
		set("ulimits", resource.NewArrayProperty(ul))
	}
	set("privileged", boolean(ci.HostConfig.Privileged))
	set("memory", num(float64(ci.HostConfig.Memory/1024/1024)))
	if ci.HostConfig.MemorySwap > 0 {
		set("memorySwap", num(float64(ci.HostConfig.MemorySwap/1024/1024)))
	} else {
		set("memorySwap", num(float64(ci.HostConfig.MemorySwap)))
	}
	set("shmSize", num(float64(ci.HostConfig.ShmSize/1024/1024)))
	set("cpuShares", num(float64(ci.HostConfig.CPUShares)))
	set("logDriver", str(ci.HostConfig.LogConfig.Type))
	if _, has := inputs["logOpts"]; has {
		set("logOpts", stringMap(ci.HostConfig.LogConfig.Config))
	} else {
		set("logOpts", null())
	}
	set("networkMode", str(ci.HostConfig.NetworkMode))
	if hc := ci.Config.Healthcheck; hc != nil {
		set("healthcheck", resource.NewObjectProperty(resource.PropertyMap{
			"tests":         strs(hc.Test),
			"interval":      str(hc.Interval.String()),
			"timeout":       str(hc.Timeout.String()),
			"startPeriod":   str(hc.StartPeriod.String()),
			"startInterval": str(hc.StartInterval.String()),
			"retries":       num(float64(hc.Retries)),
		}))
	}
	set("sysctls", stringMap(ci.HostConfig.Sysctls))
	set("groupAdds", strs(ci.HostConfig.GroupAdd))
	set("stopSignal", str(ci.Config.StopSignal))
	// Terraform's d.Set of a nil *int records 0.
	stopTimeout := 0
	if ci.Config.StopTimeout != nil {
		stopTimeout = *ci.Config.StopTimeout
	}
	set("stopTimeout", num(float64(stopTimeout)))
	// The rest of upstream's Read; what it never reads is the schema's zero (tfstate.go).
	set("platform", str(ci.Platform))
	set("ipcMode", str(ci.HostConfig.IpcMode))
	set("runtime", str(ci.HostConfig.Runtime))
	set("cpuSet", str(ci.HostConfig.CpusetCpus))
	set("usernsMode", str(ci.HostConfig.UsernsMode))
	set("storageOpts", stringMap(ci.HostConfig.StorageOpt))
	set("rm", boolean(ci.HostConfig.AutoRemove))
	set("tty", boolean(ci.Config.Tty))
	set("stdinOpen", boolean(ci.Config.OpenStdin))
	if r := ci.HostConfig.MemoryReservation; r > 0 {
		set("memoryReservation", num(float64(r/1024/1024)))
	} else {
		set("memoryReservation", num(float64(r)))
	}
	if n := ci.HostConfig.NanoCPUs; n > 0 {
		set("cpus", str(strconv.FormatFloat(float64(n)/1e9, 'f', -1, 64)))
	}
	// Optional+Computed sets and lists: what the engine does not report is an empty one.
	for _, k := range []string{"securityOpts", "entrypoints"} {
		if out[resource.PropertyKey(k)].IsNull() {
			set(k, emptyList())
		}
	}
	return out
}

func boolInput(m resource.PropertyMap, key string) *bool {
	if b, ok := plain(m[resource.PropertyKey(key)]).(bool); ok {
		return &b
	}
	return nil
}

func (containerKind) createContainer(ctx context.Context, p *dockerProvider, e *engine, urn resource.URN, a *containerArgs) (string, error) {
	config := map[string]any{
		"Image": a.Image, "Env": a.Envs, "User": a.User, "WorkingDir": a.WorkingDir,
		"Hostname": a.Hostname, "Domainname": a.Domainname, "Labels": labelsMap(a.Labels),
	}
	if len(a.Command) > 0 {
		config["Cmd"] = a.Command
	}
	if len(a.Entrypoints) > 0 {
		config["Entrypoint"] = a.Entrypoints
	}
	if a.StopSignal != "" {
		config["StopSignal"] = a.StopSignal
	}
	if a.StopTimeout != nil {
		config["StopTimeout"] = *a.StopTimeout
	}
	if hc := a.Healthcheck; hc != nil {
		h := map[string]any{"Test": hc.Tests, "Retries": hc.Retries}
		for key, s := range map[string]string{"Interval": hc.Interval, "Timeout": hc.Timeout,
			"StartPeriod": hc.StartPeriod, "StartInterval": hc.StartInterval} {
			if d, _ := parseDuration(s); d > 0 {
				h[key] = d
			}
		}
		config["Healthcheck"] = h
	}

	host := map[string]any{
		"Privileged": a.Privileged, "ReadonlyRootfs": a.ReadOnly, "Init": a.Init,
		"PublishAllPorts": a.PublishAllPorts, "GroupAdd": a.GroupAdds, "Dns": a.DNS,
		"DnsOptions": a.DNSOpts, "DnsSearch": a.DNSSearches, "Sysctls": a.Sysctls,
		"SecurityOpt": a.SecurityOpts, "Tmpfs": a.Tmpfs,
	}
	if a.ShmSize > 0 {
		host["ShmSize"] = a.ShmSize * 1024 * 1024 // MB, as upstream
	}
	updatableHostConfig(host, a)
	if a.LogDriver != "" {
		host["LogConfig"] = map[string]any{"Type": a.LogDriver, "Config": a.LogOpts}
	}
	if a.Capabilities != nil {
		host["CapAdd"], host["CapDrop"] = a.Capabilities.Adds, a.Capabilities.Drops
	}
	var extraHosts []string
	for _, h := range a.Hosts {
		extraHosts = append(extraHosts, h.Host+":"+h.IP)
	}
	host["ExtraHosts"] = extraHosts
	var ulimits []map[string]any
	for _, u := range a.Ulimits {
		ulimits = append(ulimits, map[string]any{"Name": u.Name, "Soft": u.Soft, "Hard": u.Hard})
	}
	host["Ulimits"] = ulimits

	exposed := map[string]any{}
	bindings := map[string][]map[string]string{}
	for _, pt := range a.Ports {
		proto := pt.Protocol
		if proto == "" {
			proto = "tcp"
		}
		key := fmt.Sprintf("%d/%s", pt.Internal, proto)
		exposed[key] = map[string]any{}
		ip := pt.IP
		if ip == "" {
			ip = "0.0.0.0"
		}
		hostPort := ""
		if pt.External > 0 {
			hostPort = strconv.Itoa(pt.External)
		}
		bindings[key] = append(bindings[key], map[string]string{"HostIp": ip, "HostPort": hostPort})
	}
	if len(exposed) > 0 {
		config["ExposedPorts"] = exposed
		host["PortBindings"] = bindings
	}

	var binds []string
	for _, v := range a.Volumes {
		src := v.VolumeName
		if src == "" {
			src = v.HostPath
		}
		if src == "" {
			// An anonymous volume.
			vols, _ := config["Volumes"].(map[string]any)
			if vols == nil {
				vols = map[string]any{}
				config["Volumes"] = vols
			}
			vols[v.ContainerPath] = map[string]any{}
			continue
		}
		b := src + ":" + v.ContainerPath
		if v.ReadOnly {
			b += ":ro"
		}
		binds = append(binds, b)
	}
	host["Binds"] = binds

	// As upstream: created in networkMode (default "bridge"), then, before it starts, taken off the
	// default bridge and attached to each networksAdvanced network.
	if a.NetworkMode != "" {
		host["NetworkMode"] = a.NetworkMode
	}
	config["HostConfig"] = host

	var created struct {
		ID       string   `json:"Id"`
		Warnings []string `json:"Warnings"`
	}
	if err := e.call(ctx, http.MethodPost, "/containers/create", url.Values{"name": {a.Name}}, config, &created); err != nil {
		return "", fmt.Errorf("creating container %s: %w", a.Name, err)
	}
	for _, w := range created.Warnings {
		p.warn(ctx, urn, w)
	}
	id := created.ID
	fail := func(err error) (string, error) {
		_ = removeContainer(ctx, e, id, 0, true)
		return "", err
	}
	if len(a.NetworksAdvanced) > 0 {
		err := e.call(ctx, http.MethodPost, "/networks/bridge/disconnect", nil, map[string]any{"Container": id}, nil)
		if err != nil && !strings.Contains(err.Error(), "is not connected to the network bridge") {
			return fail(fmt.Errorf("disconnecting container %s from the default network: %w", a.Name, err))
		}
	}
	for _, n := range a.NetworksAdvanced {
		body := map[string]any{"Container": id, "EndpointConfig": endpointConfig(n.Aliases, n.Ipv4Address, n.Ipv6Address)}
		if err := e.call(ctx, http.MethodPost, "/networks/"+url.PathEscape(n.Name)+"/connect", nil, body, nil); err != nil {
			return fail(fmt.Errorf("connecting container %s to network %s: %w", a.Name, n.Name, err))
		}
	}
	for _, u := range a.Uploads {
		if err := upload(ctx, e, id, u.File, u.Content, u.ContentBase64, u.Source, u.Executable); err != nil {
			return fail(fmt.Errorf("uploading %s into container %s: %w", u.File, a.Name, err))
		}
	}
	return id, nil
}

func endpointConfig(aliases []string, ipv4, ipv6 string) map[string]any {
	ep := map[string]any{"Aliases": aliases}
	if ipv4 != "" || ipv6 != "" {
		ep["IPAMConfig"] = map[string]any{"IPv4Address": ipv4, "IPv6Address": ipv6}
	}
	return ep
}

func upload(ctx context.Context, e *engine, id, file, content, contentB64, source string, executable bool) error {
	var data []byte
	switch {
	case contentB64 != "":
		d, err := base64.StdEncoding.DecodeString(contentB64)
		if err != nil {
			return fmt.Errorf("contentBase64: %w", err)
		}
		data = d
	case source != "":
		d, err := os.ReadFile(source)
		if err != nil {
			return err
		}
		data = d
	default:
		data = []byte(content)
	}
	mode := int64(0o644)
	if executable {
		mode = 0o755
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Upstream's way: the full path inside a tar extracted at "/", so missing parents are created.
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(path.Clean(file), "/"), Mode: mode, Size: int64(len(data)),
		Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := e.do(ctx, http.MethodPut, "/containers/"+id+"/archive", url.Values{"path": {"/"}},
		&buf, map[string]string{"Content-Type": "application/x-tar"})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// updatableHostConfig sets the host settings `docker update` can change in place (restart policy,
// memory, CPU shares): the same keys at create and at update.
func updatableHostConfig(host map[string]any, a *containerArgs) {
	if a.Memory > 0 {
		host["Memory"] = a.Memory * 1024 * 1024 // MB, as upstream
	}
	if a.MemorySwap != 0 {
		host["MemorySwap"] = a.MemorySwap * 1024 * 1024
	}
	if a.CPUShares > 0 {
		host["CpuShares"] = a.CPUShares
	}
	restart := a.Restart
	if restart == "" {
		restart = "no"
	}
	rp := map[string]any{"Name": restart}
	if restart == "on-failure" {
		rp["MaximumRetryCount"] = a.MaxRetryCount
	}
	host["RestartPolicy"] = rp
}

func inspectContainer(ctx context.Context, e *engine, id string) (*containerInspect, error) {
	var ci containerInspect
	if err := e.call(ctx, http.MethodGet, "/containers/"+id+"/json", nil, nil, &ci); err != nil {
		return nil, err
	}
	return &ci, nil
}

// logsTail returns the last lines of a container's output (for error messages).
func logsTail(ctx context.Context, e *engine, id string) string {
	resp, err := e.do(ctx, http.MethodGet, "/containers/"+id+"/logs",
		url.Values{"stdout": {"1"}, "stderr": {"1"}, "tail": {"20"}}, nil, nil)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	// Non-TTY logs are multiplexed: 8-byte frame headers before each chunk.
	var out bytes.Buffer
	for len(raw) >= 8 && (raw[0] == 1 || raw[0] == 2) {
		n := int(raw[4])<<24 | int(raw[5])<<16 | int(raw[6])<<8 | int(raw[7])
		raw = raw[8:]
		if n > len(raw) {
			n = len(raw)
		}
		out.Write(raw[:n])
		raw = raw[n:]
	}
	out.Write(raw)
	return strings.TrimSpace(out.String())
}

func (containerKind) startContainer(ctx context.Context, p *dockerProvider, e *engine, urn resource.URN, id string, a *containerArgs) (*containerInspect, error) {
	if !boolOr(a.Start, true) {
		return inspectContainer(ctx, e, id)
	}
	if err := e.call(ctx, http.MethodPost, "/containers/"+id+"/start", nil, nil, nil); err != nil {
		return nil, fmt.Errorf("starting container %s: %w", a.Name, err)
	}
	ci, err := inspectContainer(ctx, e, id)
	if err != nil {
		return nil, err
	}
	if boolOr(a.MustRun, true) && !ci.State.Running {
		return nil, fmt.Errorf("container %s exited right after it started (exit code %d)\n%s",
			a.Name, ci.State.ExitCode, logsTail(ctx, e, id))
	}
	if a.Wait {
		timeout := 60
		if a.WaitTimeout != nil {
			timeout = *a.WaitTimeout
		}
		p.logStatus(ctx, urn, fmt.Sprintf("waiting up to %ds for %s to be healthy", timeout, a.Name))
		err := waitFor(ctx, time.Duration(timeout)*time.Second, time.Second, func() (bool, error) {
			c, err := inspectContainer(ctx, e, id)
			if err != nil {
				return false, err
			}
			ci = c
			if !c.State.Running {
				return false, fmt.Errorf("container %s stopped while waiting for it to be healthy (exit code %d)\n%s",
					a.Name, c.State.ExitCode, logsTail(ctx, e, id))
			}
			if c.State.Health == nil {
				return true, nil // no healthcheck: running is all there is to wait for
			}
			return c.State.Health.Status == "healthy", nil
		})
		if err != nil {
			detail := ""
			if ci != nil && ci.State.Health != nil && len(ci.State.Health.Log) > 0 {
				last := ci.State.Health.Log[len(ci.State.Health.Log)-1]
				detail = fmt.Sprintf("; last health check: exit %d: %s", last.ExitCode, strings.TrimSpace(last.Output))
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("container %s was not healthy after %ds%s", a.Name, timeout, detail)
			}
			return nil, err
		}
	}
	return ci, nil
}

// removeContainer stops (with a grace period) and removes a container, then waits until it is gone.
func removeContainer(ctx context.Context, e *engine, id string, grace int, removeVolumes bool) error {
	if grace > 0 {
		err := e.call(ctx, http.MethodPost, "/containers/"+id+"/stop", url.Values{"t": {strconv.Itoa(grace)}}, nil, nil)
		if err != nil && isNotFound(err) {
			return nil
		}
	}
	q := url.Values{"force": {"1"}}
	if removeVolumes {
		q.Set("v", "1")
	}
	if err := e.call(ctx, http.MethodDelete, "/containers/"+id, q, nil, nil); err != nil {
		if isNotFound(err) {
			return nil
		}
		var ae *apiError
		if !(errors.As(err, &ae) && ae.status == http.StatusConflict) { // removal already in progress
			return err
		}
	}
	return waitFor(ctx, 60*time.Second, 500*time.Millisecond, func() (bool, error) {
		_, err := inspectContainer(ctx, e, id)
		if isNotFound(err) {
			return true, nil
		}
		return false, nil
	})
}

func (containerKind) update(ctx context.Context, p *dockerProvider, urn resource.URN, id string, olds, news resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	keep := map[string]resource.PropertyValue{
		"networkDatas": olds["networkDatas"], "exitCode": olds["exitCode"], "bridge": olds["bridge"],
	}
	if preview {
		return withOutputs(containerSchema.outputs(news), keep), nil
	}
	var o, a containerArgs
	if err := decode(olds, &o); err != nil {
		return nil, err
	}
	if err := decode(news, &a); err != nil {
		return nil, err
	}
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	// As upstream: mustRun false -> true (a refresh found it stopped) starts the container.
	if !boolOr(o.MustRun, true) && boolOr(a.MustRun, true) && boolOr(a.Start, true) {
		if err := e.call(ctx, http.MethodPost, "/containers/"+id+"/start", nil, nil, nil); err != nil {
			return nil, fmt.Errorf("Unable to start container: %w", err)
		}
	}
	if o.Restart != a.Restart || o.MaxRetryCount != a.MaxRetryCount || o.Memory != a.Memory ||
		o.MemorySwap != a.MemorySwap || o.CPUShares != a.CPUShares {
		body := map[string]any{}
		updatableHostConfig(body, &a)
		if err := e.call(ctx, http.MethodPost, "/containers/"+id+"/update", nil, body, nil); err != nil {
			return nil, fmt.Errorf("updating container %s: %w", a.Name, err)
		}
	}
	// As upstream: the state after an update is what the engine reads back, but for what the
	// update records without applying it.
	ci, err := inspectContainer(ctx, e, id)
	if err != nil {
		return nil, err
	}
	return plannedNotApplied(zeroUnsetGwPriority(containerState(news, ci)), news), nil
}

// plannedNotApplied: upstream's Update returns without reading the container back, so the
// fields it records without applying them (a declared healthcheck, init, tmpfs) keep their
// planned values (recorded: the vectors' "state after a failed release", whose pending-delete
// app container was updated from a 2s to a 10s health check interval).
func plannedNotApplied(state, news resource.PropertyMap) resource.PropertyMap {
	planned := containerSchema.outputs(news)
	for _, k := range []resource.PropertyKey{"healthcheck", "init", "tmpfs"} {
		if v, ok := planned[k]; ok && !v.IsNull() {
			state[k] = v
		}
	}
	return state
}

// zeroUnsetGwPriority: after an update upstream records an undeclared networksAdvanced
// gwPriority as 0, where its create leaves it null (recorded: the vectors' "state after a failed
// release", whose pending-delete app container was last updated, not created).
func zeroUnsetGwPriority(state resource.PropertyMap) resource.PropertyMap {
	nets := state["networksAdvanced"]
	if !nets.IsArray() {
		return state
	}
	for _, n := range nets.ArrayValue() {
		if n.IsObject() && n.ObjectValue()["gwPriority"].IsNull() {
			n.ObjectValue()["gwPriority"] = resource.NewNumberProperty(0)
		}
	}
	return state
}

func (containerKind) delete(ctx context.Context, p *dockerProvider, urn resource.URN, id string, olds resource.PropertyMap) error {
	var a containerArgs
	if err := decode(olds, &a); err != nil {
		return err
	}
	e, err := p.engine()
	if err != nil {
		return err
	}
	if err := removeContainer(ctx, e, id, a.DestroyGraceSeconds, boolOr(a.RemoveVolumes, true)); err != nil {
		return fmt.Errorf("removing container %s: %w", a.Name, err)
	}
	return nil
}

// read: gone when the container is gone. A stopped container stays, as upstream's Read does
// (kreuzwerker v4.5.0): exitCode is read, and a declared mustRun true becomes false, so that the
// next plan is an update (mustRun false -> true) which starts it again.
func (containerKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	ci, err := inspectContainer(ctx, e, id)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	outs := containerState(state, ci)
	if !ci.State.Running && boolOr(boolInput(state, "mustRun"), true) {
		outs["mustRun"] = resource.NewBoolProperty(false)
	}
	return outs, nil
}

// readInputs: as the bridge's refresh (ExtractInputsFromOutputs), an input takes the value Read
// gave its output: a stopped container's mustRun input is false too.
func (containerKind) readInputs(inputs, outs resource.PropertyMap) resource.PropertyMap {
	if _, has := inputs["mustRun"]; has && outs["mustRun"].IsBool() {
		inputs = inputs.Copy()
		inputs["mustRun"] = outs["mustRun"]
	}
	return inputs
}
