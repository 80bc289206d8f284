// pulumi-resource-docker: a minimal, protocol-compatible stand-in for the Pulumi Docker provider.
//
// The upstream provider (module github.com/pulumi/pulumi-docker/provider/v5, which embeds
// github.com/kreuzwerker/terraform-provider-docker) is not served by the Go module proxy this
// project can reach, so proving-ground/bootstrap-pulumi.sh builds this one and installs it as
// plugin `docker` at the version the pulumi-docker Python SDK asks for. It talks to the Docker Engine
// API directly and mirrors upstream v5.1.0 for the resources and inputs this program uses —
// defaults, read-back values, state shape, diff and replace behaviour — checked field by field
// against the state and previews recorded on the upstream plugins (tests/e2e/vectors/):
//
//   - provider config: host (unix://, tcp:// (plain) and ssh:// (`ssh … HOST docker system
//     dial-stdio`, as upstream's connhelper)), sshOpts, registryAuth [{address, username, password}]
//   - docker:index/network:Network      name, driver, labels (every change replaces)
//   - docker:index/volume:Volume        name, labels (every change replaces)
//   - docker:index/remoteImage:RemoteImage  name, keepLocally, platform; outputs imageId, repoDigest
//   - docker:index/image:Image          imageName, build {context, dockerfile, args, target,
//     platform}, registry {server, username, password}; the engine's classic builder, push,
//     repoDigest; the context (minus .dockerignore) hashed into build.contextDigest
//   - docker:index/container:Container  see container.go
//   - docker:index/getNetwork:getNetwork (invoke)
//
// bridge.go has what upstream's Terraform bridge does around the bridged types (defaults filled
// into inputs, the state's shape, planning against the read-back state). Every other input,
// resource type and option is refused by Check, by name (`verified`): the stand-in never
// silently differs from upstream.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil/rpcerror"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"laravel-stack/toolchain/internal/provider"
)

// version is set with -ldflags "-X main.version=..." by the bootstrap script.
var version = "5.1.0"

// Upstream (the terraform bridge, muxed with pulumi-docker's native provider) accepts neither
// secrets nor resource references: the engine strips secrets from what it sends and marks every
// top-level property secret whose input held one, so an upload holding a secret is a wholly
// secret `uploads` in state. The stand-in declares the same in Handshake (and in Configure) and
// lets the engine do the same.
func main() {
	provider.Serve("docker", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &dockerProvider{
			Base: provider.Base{Name: "docker", Version: version, AcceptSecrets: false, AcceptResources: false},
			host: host,
		}, nil
	})
}

// resourceKind is what each resource type implements.
type resourceKind interface {
	// supported lists the input keys this build implements.
	supported() []string
	// check validates and normalizes inputs (plain values; unknowns possible).
	check(ctx context.Context, p *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error)
	// replaceKeys says which changed keys force a replacement ("*" = all but updateKeys).
	updateKeys() []string
	// deleteBeforeReplace reports whether a replacement must delete first (fixed names).
	deleteBeforeReplace(olds, news resource.PropertyMap) bool
	create(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error)
	update(ctx context.Context, p *dockerProvider, urn resource.URN, id string, olds, news resource.PropertyMap, preview bool) (resource.PropertyMap, error)
	delete(ctx context.Context, p *dockerProvider, urn resource.URN, id string, olds resource.PropertyMap) error
	// read returns nil when the object is gone.
	read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error)
}

var kinds = map[string]resourceKind{
	"docker:index/network:Network":             networkKind{},
	"docker:index/volume:Volume":               volumeKind{},
	"docker:index/remoteImage:RemoteImage":     remoteImageKind{},
	"docker:index/image:Image":                 imageKind{},
	"docker:image:Image":                       imageKind{}, // the SDK's alias of Image
	"docker:index/container:Container":         containerKind{},
	"docker:index/service:Service":             serviceKind{},
	"docker:index/serviceConfig:ServiceConfig": serviceConfigKind{},
	"docker:index/secret:Secret":               secretKind{},
}

type registryAuth struct {
	Address  string `json:"address"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// dockerProvider: GetPluginInfo, GetSchema, Handshake and Cancel come from provider.Base.
type dockerProvider struct {
	provider.Base
	host *provider.HostClient

	mu      sync.Mutex
	hostV   string
	sshOpts []string
	auths   []registryAuth
	client  *engine
}

func (p *dockerProvider) engine() (*engine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		h := p.hostV
		if h == "" {
			h = os.Getenv("DOCKER_HOST")
		}
		c, err := newEngine(h, p.sshOpts)
		if err != nil {
			return nil, err
		}
		p.client = c
	}
	return p.client, nil
}

// authFor finds provider-level credentials for a registry.
func (p *dockerProvider) authFor(registry string) *authConfig {
	key := normalizeRegistry(registry)
	for _, a := range p.auths {
		if normalizeRegistry(a.Address) == key {
			return &authConfig{Username: a.Username, Password: a.Password, ServerAddress: a.Address}
		}
	}
	return nil
}

func (p *dockerProvider) logStatus(ctx context.Context, urn resource.URN, msg string) {
	if p.host != nil {
		_ = p.host.LogStatus(ctx, diag.Info, urn, msg)
	}
}

func (p *dockerProvider) warn(ctx context.Context, urn resource.URN, msg string) {
	if p.host != nil {
		_ = p.host.Log(ctx, diag.Warning, urn, msg)
	}
}

// ---- property helpers ---------------------------------------------------------------------

// marshalState keeps nulls: upstream's state records unset schema fields as null.
func marshalState(m resource.PropertyMap, label string) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true,
	})
}

// plain turns a property value into JSON-like data: secrets unwrapped, unknowns dropped (nil).
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		out := make([]any, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsComputed():
		return nil // not known yet (preview): absent
	case v.IsOutput():
		if !v.OutputValue().Known {
			return nil
		}
		return plain(v.OutputValue().Element)
	case v.IsResourceReference():
		ref := v.ResourceReferenceValue()
		if id, ok := ref.IDString(); ok {
			return id
		}
		return string(ref.URN)
	default:
		return nil
	}
}

func plainMap(m resource.PropertyMap) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if v.IsNull() {
			continue
		}
		out[string(k)] = plain(v)
	}
	return out
}

// decode fills a typed struct from a property map (JSON field names = property names).
func decode(m resource.PropertyMap, into any) error {
	data, err := json.Marshal(plainMap(m))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

// hasUnknowns reports whether any value in m is not known yet.
func hasUnknowns(m resource.PropertyMap) bool { return m.ContainsUnknowns() }

// verified lists, per resource type, the inputs this program uses (with their nested fields):
// what the conformance vectors (tests/e2e/vectors/upstream.json) check against the upstream
// provider. Check refuses every other input by name, so nothing the program could start using
// silently behaves differently from upstream. A nil list: a scalar or a list of scalars.
var verified = map[string]map[string][]string{
	"docker:index/container:Container": {
		"name": nil, "image": nil, "command": nil, "envs": nil, "user": nil, "restart": nil,
		"stopSignal": nil, "destroyGraceSeconds": nil, "wait": nil, "waitTimeout": nil, "init": nil,
		"labels":           {"label", "value"},
		"ports":            {"internal", "external", "ip"},
		"volumes":          {"containerPath", "volumeName", "readOnly"},
		"networksAdvanced": {"name", "aliases"},
		"uploads":          {"file", "content"},
		"healthcheck":      {"tests", "interval", "timeout", "startPeriod", "retries"},
	},
	"docker:index/network:Network": {"name": nil, "driver": nil, "attachable": nil, "options": nil,
		"labels": {"label", "value"}},
	"docker:index/volume:Volume":               {"name": nil, "driver": nil, "driverOpts": nil, "labels": {"label", "value"}},
	"docker:index/serviceConfig:ServiceConfig": {"name": nil, "data": nil},
	"docker:index/secret:Secret":               {"name": nil, "data": nil},
	"docker:index/remoteImage:RemoteImage":     {"name": nil, "keepLocally": nil, "platform": nil},
	"docker:index/image:Image": {
		"imageName": nil,
		"build":     {"context", "dockerfile", "args", "target", "platform"},
		"registry":  {"server", "username", "password"},
	},
}

// verifiedPaths: the same for types with deeper nesting: every dotted path of an object field
// that is verified; true marks a leaf (a scalar, a list of scalars or a map: not looked into).
var verifiedPaths = map[string]map[string]bool{
	"docker:index/service:Service": pathSet(
		"name", "mode.replicated.replicas", "mode.global",
		"taskSpec.containerSpec.image", "taskSpec.containerSpec.commands", "taskSpec.containerSpec.env",
		"taskSpec.containerSpec.stopSignal", "taskSpec.containerSpec.stopGracePeriod",
		"taskSpec.containerSpec.healthcheck.tests", "taskSpec.containerSpec.healthcheck.interval",
		"taskSpec.containerSpec.healthcheck.timeout", "taskSpec.containerSpec.healthcheck.startPeriod",
		"taskSpec.containerSpec.healthcheck.retries",
		"taskSpec.containerSpec.mounts.target", "taskSpec.containerSpec.mounts.source",
		"taskSpec.containerSpec.mounts.type", "taskSpec.containerSpec.mounts.readOnly",
		"taskSpec.containerSpec.mounts.volumeOptions.driverName",
		"taskSpec.containerSpec.mounts.volumeOptions.driverOptions",
		"taskSpec.containerSpec.mounts.volumeOptions.noCopy",
		"taskSpec.containerSpec.configs.configId", "taskSpec.containerSpec.configs.configName",
		"taskSpec.containerSpec.configs.fileName", "taskSpec.containerSpec.configs.fileMode",
		"taskSpec.containerSpec.configs.fileUid", "taskSpec.containerSpec.configs.fileGid",
		"taskSpec.containerSpec.secrets.secretId", "taskSpec.containerSpec.secrets.secretName",
		"taskSpec.containerSpec.secrets.fileName", "taskSpec.containerSpec.secrets.fileMode",
		"taskSpec.containerSpec.secrets.fileUid", "taskSpec.containerSpec.secrets.fileGid",
		"taskSpec.networksAdvanceds.name", "taskSpec.networksAdvanceds.aliases",
		"taskSpec.placement.constraints", "taskSpec.placement.maxReplicas",
		"taskSpec.restartPolicy.condition", "taskSpec.restartPolicy.delay",
		"taskSpec.restartPolicy.maxAttempts", "taskSpec.restartPolicy.window",
		"updateConfig.parallelism", "updateConfig.delay", "updateConfig.failureAction", "updateConfig.monitor",
		"updateConfig.maxFailureRatio", "updateConfig.order",
		"rollbackConfig.parallelism", "rollbackConfig.delay", "rollbackConfig.failureAction",
		"rollbackConfig.monitor", "rollbackConfig.maxFailureRatio", "rollbackConfig.order",
		"endpointSpec.mode", "endpointSpec.ports.targetPort", "endpointSpec.ports.publishedPort",
		"endpointSpec.ports.publishMode", "endpointSpec.ports.protocol", "endpointSpec.ports.name",
		"convergeConfig.delay", "convergeConfig.timeout",
	),
}

// pathSet: the leaves given and every object above them.
func pathSet(leaves ...string) map[string]bool {
	set := map[string]bool{}
	for _, l := range leaves {
		set[l] = true
		for i := strings.LastIndex(l, "."); i > 0; i = strings.LastIndex(l[:i], ".") {
			if _, ok := set[l[:i]]; !ok {
				set[l[:i]] = false
			}
		}
	}
	return set
}

// unverifiedPaths names every field of m outside paths (as a dotted path).
func unverifiedPaths(paths map[string]bool, prefix string, m resource.PropertyMap, bad *[]string) {
	for k, v := range m {
		if v.IsNull() || strings.HasPrefix(string(k), "__") {
			continue
		}
		p := string(k)
		if prefix != "" {
			p = prefix + "." + p
		}
		leaf, ok := paths[p]
		if !ok {
			*bad = append(*bad, p)
			continue
		}
		if !leaf {
			mapObjects(v, func(o resource.PropertyMap) resource.PropertyMap {
				unverifiedPaths(paths, p, o, bad)
				return o
			})
		}
	}
}

// defaultOnly are inputs the SDKs always send with their default value: that value is verified
// (it is what upstream's state records), any other is refused.
var defaultOnly = map[string]map[string]resource.PropertyValue{
	"docker:index/image:Image": {"skipPush": boolean(false), "buildOnPreview": boolean(false)},
}

// unverifiedInputs names every input (or nested field, as `key.field`) outside `verified`.
func unverifiedInputs(typ string, m resource.PropertyMap) []string {
	if typ == "docker:image:Image" {
		typ = "docker:index/image:Image"
	}
	allowed := verified[typ]
	var bad []string
	if paths, ok := verifiedPaths[typ]; ok {
		unverifiedPaths(paths, "", m, &bad)
		sort.Strings(bad)
		return bad
	}
	for key, v := range m {
		if v.IsNull() || strings.HasPrefix(string(key), "__") {
			continue
		}
		if def, ok := defaultOnly[typ][string(key)]; ok {
			if !v.DeepEquals(def) {
				bad = append(bad, fmt.Sprintf("%s (other than %v)", key, def.V))
			}
			continue
		}
		fields, ok := allowed[string(key)]
		if !ok {
			bad = append(bad, string(key))
			continue
		}
		if fields == nil {
			continue
		}
		okField := map[string]bool{}
		for _, f := range fields {
			okField[f] = true
		}
		mapObjects(v, func(o resource.PropertyMap) resource.PropertyMap {
			for f, fv := range o {
				if !fv.IsNull() && !strings.HasPrefix(string(f), "__") && !okField[string(f)] {
					bad = append(bad, string(key)+"."+string(f))
				}
			}
			return o
		})
	}
	sort.Strings(bad)
	return bad
}

func computed() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}

// ---- provider-level RPCs ------------------------------------------------------------------

// The provider options this program sets (sshOpts, disableDockerDaemonCheck, … are refused).
var configKeys = []string{"host", "sshOpts", "registryAuth", "version"}

func (p *dockerProvider) CheckConfig(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := provider.Unmarshal(req.GetNews(), "checkConfig.news")
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	allowed := map[string]bool{}
	for _, k := range configKeys {
		allowed[k] = true
	}
	for k, v := range news {
		if v.IsNull() || allowed[string(k)] || strings.HasPrefix(string(k), "__") {
			continue
		}
		failures = append(failures, &pulumirpc.CheckFailure{
			Property: string(k),
			Reason:   fmt.Sprintf("provider option %q is not supported by this build of the docker provider", k),
		})
	}
	// As upstream's CheckConfig: an option given as JSON text (the SDKs send registryAuth that
	// way) is recorded re-encoded, compact, keys sorted.
	inputs := req.GetNews()
	changed := false
	for _, k := range []resource.PropertyKey{"registryAuth", "sshOpts"} {
		if v, ok := news[k]; ok {
			if c := compactJSON(v); !c.DeepEquals(v) {
				news[k], changed = c, true
			}
		}
	}
	// As upstream (registry_auth holds a Sensitive password): registryAuth is recorded secret.
	if v, ok := news["registryAuth"]; ok && !v.IsNull() && !v.IsSecret() && !v.ContainsUnknowns() {
		news["registryAuth"], changed = resource.MakeSecret(v), true
	}
	if changed {
		if inputs, err = marshalState(news, "checkConfig.inputs"); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

func compactJSON(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() {
		return resource.MakeSecret(compactJSON(v.SecretValue().Element))
	}
	if !v.IsString() {
		return v
	}
	var decoded any
	if json.Unmarshal([]byte(v.StringValue()), &decoded) != nil {
		return v
	}
	compact, err := json.Marshal(decoded)
	if err != nil {
		return v
	}
	return resource.NewStringProperty(string(compact))
}

func (p *dockerProvider) DiffConfig(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := provider.Unmarshal(req.GetOldInputs(), "diffConfig.olds")
	if err != nil {
		return nil, err
	}
	news, err := provider.Unmarshal(req.GetNews(), "diffConfig.news")
	if err != nil {
		return nil, err
	}
	var diffs []string
	for _, k := range configKeys {
		ov, nv := olds[resource.PropertyKey(k)], news[resource.PropertyKey(k)]
		if !ov.DeepEquals(nv) || nv.ContainsUnknowns() {
			diffs = append(diffs, k)
		}
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{Changes: changes, Diffs: diffs}, nil
}

func (p *dockerProvider) Configure(ctx context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	var cfg struct {
		Host         string          `json:"host"`
		RegistryAuth json.RawMessage `json:"registryAuth"`
		SSHOpts      json.RawMessage `json:"sshOpts"`
	}
	if req.GetArgs() != nil {
		args, err := provider.Unmarshal(req.GetArgs(), "configure.args")
		if err != nil {
			return nil, err
		}
		if err := decode(args, &cfg); err != nil {
			return nil, fmt.Errorf("docker provider config: %w", err)
		}
	} else {
		vars := req.GetVariables()
		cfg.Host = vars["docker:config:host"]
		if ra := vars["docker:config:registryAuth"]; ra != "" {
			cfg.RegistryAuth = json.RawMessage(ra)
		}
		if so := vars["docker:config:sshOpts"]; so != "" {
			cfg.SSHOpts = json.RawMessage(so)
		}
	}
	var sshOpts []string
	if err := jsonListOrText(cfg.SSHOpts, &sshOpts); err != nil {
		return nil, fmt.Errorf("docker provider config sshOpts: %w", err)
	}
	// registryAuth arrives as a list, or (from the SDKs' Provider resource) as its JSON text.
	var auths []registryAuth
	if err := jsonListOrText(cfg.RegistryAuth, &auths); err != nil {
		return nil, fmt.Errorf("docker provider config registryAuth: %w", err)
	}
	p.mu.Lock()
	p.hostV = cfg.Host
	p.sshOpts = sshOpts
	p.auths = auths
	p.client = nil
	p.mu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: false, SupportsPreview: true, AcceptResources: false}, nil
}

// jsonListOrText decodes a list given as JSON, or as a JSON string holding the list's JSON text
// (the SDKs' Provider resources send object-valued options that way).
func jsonListOrText(raw json.RawMessage, into any) error {
	var text string
	if len(raw) > 0 && json.Unmarshal(raw, &text) == nil {
		raw = json.RawMessage(text)
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return json.Unmarshal(raw, into)
}

// ---- resource RPCs ------------------------------------------------------------------------

func kindOf(t string) (resourceKind, error) {
	k, ok := kinds[t]
	if !ok {
		return nil, fmt.Errorf("resource type %s is not supported by this build of the docker provider "+
			"(supported: Network, Volume, RemoteImage, Image, Container, Service, ServiceConfig, Secret)", t)
	}
	return k, nil
}

func (p *dockerProvider) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	k, err := kindOf(req.GetType())
	if err != nil {
		return nil, err
	}
	olds, err := provider.Unmarshal(req.GetOlds(), "check.olds")
	if err != nil {
		return nil, err
	}
	news, err := provider.Unmarshal(req.GetNews(), "check.news")
	if err != nil {
		return nil, err
	}
	if bad := unverifiedInputs(req.GetType(), news); len(bad) > 0 {
		var failures []*pulumirpc.CheckFailure
		for _, b := range bad {
			failures = append(failures, &pulumirpc.CheckFailure{
				Property: b,
				Reason: fmt.Sprintf("%s: input %q is not supported by this stand-in of the docker provider "+
					"(only the inputs verified against upstream are; see proving-ground/toolchain/README.md)", req.GetType(), b),
			})
		}
		return &pulumirpc.CheckResponse{Failures: failures}, nil
	}
	checked, err := k.check(ctx, p, resource.URN(req.GetUrn()), olds, news)
	if err != nil {
		return &pulumirpc.CheckResponse{Failures: []*pulumirpc.CheckFailure{{Reason: err.Error()}}}, nil
	}
	inputs, err := provider.Marshal(checked, "check.inputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs}, nil
}

func (p *dockerProvider) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	k, err := kindOf(req.GetType())
	if err != nil {
		return nil, err
	}
	olds, err := provider.DiffOlds(req)
	if err != nil {
		return nil, err
	}
	news, err := provider.Unmarshal(req.GetNews(), "diff.news")
	if err != nil {
		return nil, err
	}
	state, err := provider.Unmarshal(req.GetOlds(), "diff.olds")
	if err != nil {
		return nil, err
	}
	if sd, ok := k.(interface {
		diff(news, state resource.PropertyMap) (diffs, replaces []string)
	}); ok {
		diffs, replaces := sd.diff(news, state)
		return diffResponse(diffs, replaces, k.deleteBeforeReplace(olds, news)), nil
	}
	plan, bridged := k.(planner)
	var keepState map[string]bool
	if cs, ok := k.(computedSetter); ok {
		keepState = cs.computedSetKeys()
	}
	update := map[string]bool{}
	for _, u := range k.updateKeys() {
		update[u] = true
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	var diffs, replaces []string
	for _, key := range k.supported() {
		pk := resource.PropertyKey(key)
		ov, oldHas := olds[pk]
		nv, newHas := news[pk]
		oldHas = oldHas && !ov.IsNull()
		newHas = newHas && !nv.IsNull()
		if keepState[key] && newHas && whollyUnknown(nv) && nonEmptyList(state[pk]) {
			// Upstream plans no change here: the state's set stays (see computedSetter).
			continue
		}
		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case !oldHas && !newHas:
			continue
		case !oldHas:
			kind = pulumirpc.PropertyDiff_ADD
		case !newHas:
			kind = pulumirpc.PropertyDiff_DELETE
		case nv.ContainsUnknowns() || !sameInput(k, key, ov, nv):
			kind = pulumirpc.PropertyDiff_UPDATE
		case bridged && !tfEqual(nv, state[pk], plan.setKeys()[key]):
			// Declared as before, but the engine reports something else: upstream plans it.
			kind = pulumirpc.PropertyDiff_UPDATE
		default:
			continue
		}
		if !update[key] {
			kind++ // the *_REPLACE variant
			replaces = append(replaces, key)
		}
		diffs = append(diffs, key)
		detailed[key] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{
		Changes:             changes,
		Replaces:            replaces,
		Diffs:               diffs,
		DetailedDiff:        detailed,
		HasDetailedDiff:     true,
		DeleteBeforeReplace: len(replaces) > 0 && k.deleteBeforeReplace(olds, news),
	}, nil
}

// diffResponse: whole top-level keys, as the stand-ins itemise a diff.
func diffResponse(diffs, replaces []string, dbr bool) *pulumirpc.DiffResponse {
	detailed := map[string]*pulumirpc.PropertyDiff{}
	rep := map[string]bool{}
	for _, r := range replaces {
		rep[r] = true
	}
	for _, d := range diffs {
		kind := pulumirpc.PropertyDiff_UPDATE
		if rep[d] {
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
		}
		detailed[d] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{
		Changes: changes, Replaces: replaces, Diffs: diffs, DetailedDiff: detailed, HasDetailedDiff: true,
		DeleteBeforeReplace: len(replaces) > 0 && dbr,
	}
}

// tfFinish adds what upstream's bridge records (tfstate.go) to a bridged type's outputs.
func tfFinish(k resourceKind, id string, outs resource.PropertyMap, read bool) resource.PropertyMap {
	if b, ok := k.(interface{ shape() *tfShape }); ok && outs != nil {
		return b.shape().finish(id, outs, read)
	}
	return outs
}

// planner is implemented by the bridged types: their Diff also plans against the read-back state.
type planner interface {
	setKeys() map[string]bool
}

// computedSetter is implemented by the bridged types whose schema has Optional+Computed set
// fields (TypeSet with Computed: true). For those, a new value that is wholly unknown is no
// change when the state holds a non-empty set: the Terraform SDK's diffSet reports the unknown
// set as a computed count (`envs.#`, Old "2", New "") through countSchema.finalizeDiff, which
// drops a Computed attribute's diff when Old is set and New is empty ("a computed value with an
// old value set already, just let it go"); the planned state then equals the prior state and the
// bridge answers DIFF_NONE. The Pulumi engine relies on this when a resource is replaced
// delete-before-replace: calculateDependentReplacements diffs each dependent with every input
// that depends on the replaced resource set to unknown, and replaces the dependent only if that
// Diff asks for it. Lists (diffList writes the computed count with RequiresNew: ForceNew
// directly), scalars (their New is the unknown marker, not "") and sets that are not Computed
// (volumes, uploads) still ask for a replacement, and so does a Computed set whose state is
// empty (Old ""). Recorded on upstream (pulumi-docker v5.1.0) with a dependent's input unknown:
// envs, labels -> DIFF_NONE, no diffs; volumes, uploads, command, hostname, image ->
// DIFF_SOME, replaces [key], detailedDiff {key: UPDATE_REPLACE}.
type computedSetter interface {
	computedSetKeys() map[string]bool
}

// whollyUnknown: the value itself is unknown (not a list holding unknowns), secret or not.
func whollyUnknown(v resource.PropertyValue) bool {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v.IsComputed() || v.IsOutput() && !v.OutputValue().Known
}

// nonEmptyList: the state holds a set with at least one element.
func nonEmptyList(v resource.PropertyValue) bool {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v.IsArray() && len(v.ArrayValue()) > 0
}

// sameInput compares an old and a new input. As upstream's Image: a changed registry login
// (username, password) is not a change, only its server is.
func sameInput(k resourceKind, key string, ov, nv resource.PropertyValue) bool {
	if _, isImage := k.(imageKind); isImage && key == "registry" {
		server := func(v resource.PropertyValue) any {
			m, _ := plain(v).(map[string]any)
			return m["server"]
		}
		return server(ov) == server(nv)
	}
	// `__defaults` is the bridge's bookkeeping, not a value: a refresh drops the empty ones.
	return withoutDefaults(ov).DeepEquals(withoutDefaults(nv))
}

func withoutDefaults(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return resource.MakeSecret(withoutDefaults(v.SecretValue().Element))
	case v.IsArray():
		items := make([]resource.PropertyValue, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			items = append(items, withoutDefaults(e))
		}
		return resource.NewArrayProperty(items)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			if k != defaultsKey {
				m[k] = withoutDefaults(e)
			}
		}
		return resource.NewObjectProperty(m)
	default:
		return v
	}
}

func (p *dockerProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	k, err := kindOf(req.GetType())
	if err != nil {
		return nil, err
	}
	news, err := provider.Unmarshal(req.GetProperties(), "create.properties")
	if err != nil {
		return nil, err
	}
	id, outs, err := k.create(ctx, p, resource.URN(req.GetUrn()), news, req.GetPreview())
	if err == nil && !req.GetPreview() {
		outs = tfFinish(k, id, outs, false)
	}
	if err != nil {
		return nil, err
	}
	props, err := marshalState(outs, "create.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *dockerProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	k, err := kindOf(req.GetType())
	if err != nil {
		return nil, err
	}
	olds, err := provider.Unmarshal(req.GetOlds(), "update.olds")
	if err != nil {
		return nil, err
	}
	news, err := provider.Unmarshal(req.GetNews(), "update.news")
	if err != nil {
		return nil, err
	}
	outs, err := k.update(ctx, p, resource.URN(req.GetUrn()), req.GetId(), olds, news, req.GetPreview())
	var partial *partialFailure
	if errors.As(err, &partial) {
		// The engine records these outputs (and the inputs) with the error, as an init error.
		props, merr := marshalState(tfFinish(k, req.GetId(), partial.outs, false), "update.outputs")
		if merr != nil {
			return nil, merr
		}
		return nil, rpcerror.WithDetails(rpcerror.New(codes.Unknown, err.Error()), &pulumirpc.ErrorResourceInitFailed{
			Id: req.GetId(), Properties: props, Inputs: req.GetNews(), Reasons: []string{partial.reason},
		})
	}
	if err == nil && !req.GetPreview() {
		outs = tfFinish(k, req.GetId(), outs, false)
	}
	if err != nil {
		return nil, err
	}
	props, err := marshalState(outs, "update.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *dockerProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*pbempty.Empty, error) {
	k, err := kindOf(req.GetType())
	if err != nil {
		return nil, err
	}
	olds, err := provider.Unmarshal(req.GetProperties(), "delete.olds")
	if err != nil {
		return nil, err
	}
	if err := k.delete(ctx, p, resource.URN(req.GetUrn()), req.GetId(), olds); err != nil {
		return nil, err
	}
	return &pbempty.Empty{}, nil
}

func (p *dockerProvider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	k, err := kindOf(req.GetType())
	if err != nil {
		return nil, err
	}
	state, err := provider.Unmarshal(req.GetProperties(), "read.state")
	if err != nil {
		return nil, err
	}
	outs, err := k.read(ctx, p, req.GetId(), state)
	if err != nil {
		return nil, err
	}
	if outs == nil {
		return &pulumirpc.ReadResponse{}, nil // gone
	}
	outs = tfFinish(k, req.GetId(), outs, true)
	props, err := marshalState(outs, "read.outputs")
	if err != nil {
		return nil, err
	}
	inputs := req.GetInputs()
	if _, bridged := k.(interface{ shape() *tfShape }); bridged && inputs != nil {
		old, err := provider.Unmarshal(inputs, "read.inputs")
		if err != nil {
			return nil, err
		}
		in := old
		if ri, ok := k.(interface {
			readInputs(inputs, outs resource.PropertyMap) resource.PropertyMap
		}); ok {
			in = ri.readInputs(old, outs)
		}
		if inputs, err = marshalState(refreshedInputs(old, in), "read.inputs"); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props, Inputs: inputs}, nil
}

func (p *dockerProvider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	args, err := provider.Unmarshal(req.GetArgs(), "invoke.args")
	if err != nil {
		return nil, err
	}
	var out resource.PropertyMap
	switch req.GetTok() {
	case "docker:index/getNetwork:getNetwork":
		out, err = getNetwork(ctx, p, args)
	default:
		return nil, p.UnsupportedFunction(req.GetTok())
	}
	if err != nil {
		return nil, err
	}
	ret, err := provider.Marshal(out, "invoke.return")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

// labelsMap turns [{label, value}] into a map.
type labelArg struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

func labelsMap(ls []labelArg) map[string]string {
	if len(ls) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, l := range ls {
		m[l.Label] = l.Value
	}
	return m
}

// withOutputs copies the inputs (keeping secrets) and sets computed outputs.
func withOutputs(news resource.PropertyMap, outs map[string]resource.PropertyValue) resource.PropertyMap {
	m := news.Copy()
	for k, v := range outs {
		m[resource.PropertyKey(k)] = v
	}
	return m
}

// sameName is deleteBeforeReplace for objects with a fixed name: the replacement would collide.
func sameName(olds, news resource.PropertyMap) bool {
	on, nn := olds["name"], news["name"]
	return !nn.ContainsUnknowns() && on.DeepEquals(nn)
}

// checkNamed auto-names (recording "name" among the filled defaults, as upstream) and fills the
// schema's defaults.
func checkNamed(b *block, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	named, err := autoname(urn, olds, news)
	if err != nil {
		return nil, err
	}
	var extra []string
	if v, ok := news["name"]; !ok || v.IsNull() {
		extra = append(extra, "name")
	}
	return b.applyDefaults(named, extra...), nil
}

// autoname keeps the old name, or makes "<resource name>-<7 hex>" when none is given.
func autoname(urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if v, ok := news["name"]; ok && !v.IsNull() {
		return news, nil
	}
	out := news.Copy()
	if v, ok := olds["name"]; ok && !v.IsNull() {
		out["name"] = v
		return out, nil
	}
	name, err := resource.NewUniqueHex(urn.Name()+"-", 7, 0)
	if err != nil {
		return nil, err
	}
	out["name"] = resource.NewStringProperty(name)
	return out, nil
}
