// pulumi-resource-command: a minimal, protocol-compatible stand-in for the Pulumi Command provider.
//
// The upstream provider (module github.com/pulumi/pulumi-command/provider) is not served by the Go
// module proxy this project can reach, so proving-ground/bootstrap-pulumi.sh builds this one and
// installs it as plugin `command` at the version the pulumi-command Python SDK asks for. It implements what
// the project uses, with upstream's semantics:
//
//   - command:local:Command: create/update/delete shell commands run through `interpreter`
//     (default /bin/sh -c) in `dir`, with `environment` added to the provider's environment and
//     `stdin` piped in. `update` falls back to `create` when unset. `stdout`/`stderr` are the
//     outputs (one trailing newline trimmed). With `addPreviousOutputInEnv` (default true) the
//     previous stdout/stderr are passed to update/delete as PULUMI_COMMAND_STDOUT/STDERR.
//     Any input change is an update; a change of `triggers` replaces (the SDK also sets
//     replaceOnChanges for it). `logging` (stdout, stderr, stdoutAndStderr (default), none)
//     streams lines to the engine as status messages.
//   - command:local:run (invoke): runs `command` once and returns stdout/stderr.
//
// Check accepts only the inputs verified against upstream by the conformance vectors: create,
// interpreter, stdin, triggers and logging (see checkedInputs); every other input is refused by name. Not
// implemented at all: assetPaths/archivePaths and the remote:* resources (SSH).
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"

	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"laravel-stack/toolchain/internal/provider"
)

// version is set with -ldflags "-X main.version=..." by the bootstrap script.
var version = "1.2.1"

const (
	commandToken = "command:local:Command"
	runToken     = "command:local:run"
)

func main() {
	provider.Serve("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &commandProvider{
			Base: provider.Base{Name: "command", Version: version, AcceptSecrets: true, AcceptResources: true},
			host: host,
		}, nil
	})
}

// commandProvider: GetPluginInfo, GetSchema, Handshake and Cancel come from provider.Base.
type commandProvider struct {
	provider.Base
	host *provider.HostClient
}

// goProviderVersion: what upstream's provider framework (pulumi-go-provider) records in the
// provider's inputs at CheckConfig, as upstream's state holds it.
const goProviderVersion = "1.2.0"

func (p *commandProvider) CheckConfig(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := provider.Unmarshal(req.GetNews(), "checkConfig.news")
	if err != nil {
		return nil, err
	}
	news["__pulumi-go-provider-version"] = resource.NewStringProperty(goProviderVersion)
	inputs, err := provider.Marshal(news, "checkConfig.inputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs}, nil
}

func (p *commandProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

// ---- inputs -------------------------------------------------------------------------------

type commandInputs struct {
	create, update, delete, dir, stdin string
	interpreter                        []string
	environment                        map[string]string
	addPreviousOutputInEnv             bool
	logging                            string
}

func str(m resource.PropertyMap, k string) string {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return ""
	}
	v = unwrap(v)
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsOutput() {
		v = v.OutputValue().Element
	}
	return v
}

// checkedInputs are the inputs this program uses, whose state, diff and replace behaviour the
// conformance vectors (tests/e2e/vectors/upstream.json) verify against upstream. Any other input
// is refused by Check, so nothing can silently differ.
var checkedInputs = map[string]bool{
	"create": true, "interpreter": true, "stdin": true, "triggers": true, "logging": true,
}

func parseInputs(m resource.PropertyMap) (commandInputs, error) {
	in := commandInputs{
		create: str(m, "create"), update: str(m, "update"), delete: str(m, "delete"),
		dir: str(m, "dir"), stdin: str(m, "stdin"), logging: str(m, "logging"),
		addPreviousOutputInEnv: true,
		environment:            map[string]string{},
	}
	if v, ok := m["addPreviousOutputInEnv"]; ok {
		if v = unwrap(v); v.IsBool() {
			in.addPreviousOutputInEnv = v.BoolValue()
		}
	}
	if v, ok := m["interpreter"]; ok {
		if v = unwrap(v); v.IsArray() {
			for _, e := range v.ArrayValue() {
				if e = unwrap(e); e.IsString() {
					in.interpreter = append(in.interpreter, e.StringValue())
				}
			}
		}
	}
	if len(in.interpreter) == 0 {
		in.interpreter = []string{"/bin/sh", "-c"}
	}
	if v, ok := m["environment"]; ok {
		if v = unwrap(v); v.IsObject() {
			for k, e := range v.ObjectValue() {
				if e = unwrap(e); e.IsString() {
					in.environment[string(k)] = e.StringValue()
				}
			}
		}
	}
	for _, k := range []string{"assetPaths", "archivePaths"} {
		if v, ok := m[resource.PropertyKey(k)]; ok && !unwrap(v).IsNull() {
			return in, fmt.Errorf("%s is not supported by this build of the command provider", k)
		}
	}
	switch in.logging {
	case "", "stdout", "stderr", "stdoutAndStderr", "none":
	default:
		return in, fmt.Errorf("logging must be one of stdout, stderr, stdoutAndStderr, none; got %q", in.logging)
	}
	return in, nil
}

// ---- running ------------------------------------------------------------------------------

// lineLogger forwards complete lines to the engine as status messages.
type lineLogger struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	emit func(string)
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.Reset()
			l.buf.WriteString(line)
			break
		}
		l.emit(strings.TrimRight(line, "\r\n"))
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.emit(l.buf.String())
		l.buf.Reset()
	}
}

func (p *commandProvider) run(
	ctx context.Context, urn resource.URN, in commandInputs, command string, extraEnv map[string]string,
) (string, string, error) {
	args := append(append([]string{}, in.interpreter[1:]...), command)
	cmd := exec.CommandContext(ctx, in.interpreter[0], args...)
	cmd.Dir = in.dir
	env := os.Environ()
	keys := make([]string, 0, len(in.environment))
	for k := range in.environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+in.environment[k])
	}
	for k, v := range extraEnv {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	if in.stdin != "" {
		cmd.Stdin = strings.NewReader(in.stdin)
	}

	var stdout, stderr bytes.Buffer
	var outW, errW io.Writer = &stdout, &stderr
	var loggers []*lineLogger
	if p.host != nil && urn != "" {
		logTo := func(sev diag.Severity) *lineLogger {
			l := &lineLogger{emit: func(line string) { _ = p.host.LogStatus(ctx, sev, urn, line) }}
			loggers = append(loggers, l)
			return l
		}
		logging := in.logging
		if logging == "" {
			logging = "stdoutAndStderr"
		}
		if logging == "stdout" || logging == "stdoutAndStderr" {
			outW = io.MultiWriter(&stdout, logTo(diag.Info))
		}
		if logging == "stderr" || logging == "stdoutAndStderr" {
			errW = io.MultiWriter(&stderr, logTo(diag.Info))
		}
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err := cmd.Run()
	for _, l := range loggers {
		l.flush()
	}
	so := strings.TrimSuffix(stdout.String(), "\n")
	se := strings.TrimSuffix(stderr.String(), "\n")
	if err != nil {
		return so, se, fmt.Errorf("%w: running %q:\n%s\n%s", err, command, so, se)
	}
	return so, se, nil
}

// ---- CRUD ---------------------------------------------------------------------------------

func (p *commandProvider) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if req.GetType() != commandToken {
		return nil, fmt.Errorf("resource type %s is not supported by this build of the command provider", req.GetType())
	}
	news, err := provider.Unmarshal(req.GetNews(), "check.news")
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for k, v := range news {
		if !checkedInputs[string(k)] && !strings.HasPrefix(string(k), "__") && !unwrap(v).IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: string(k), Reason: fmt.Sprintf(
				"command:local:Command input %q is not supported by this stand-in: only create, interpreter, "+
					"stdin, triggers and logging are verified against the upstream provider", k)})
		}
	}
	if len(failures) > 0 {
		sort.Slice(failures, func(i, j int) bool { return failures[i].Property < failures[j].Property })
		return &pulumirpc.CheckResponse{Failures: failures}, nil
	}
	if _, err := parseInputs(news); err != nil {
		return &pulumirpc.CheckResponse{Failures: []*pulumirpc.CheckFailure{{Reason: err.Error()}}}, nil
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

var inputKeys = []string{
	"create", "update", "delete", "dir", "environment", "interpreter", "stdin", "triggers",
	"addPreviousOutputInEnv", "logging", "assetPaths", "archivePaths",
}

func (p *commandProvider) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := provider.DiffOlds(req)
	if err != nil {
		return nil, err
	}
	news, err := provider.Unmarshal(req.GetNews(), "diff.news")
	if err != nil {
		return nil, err
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	var replaces []string
	for _, k := range inputKeys {
		key := resource.PropertyKey(k)
		ov, oldHas := olds[key]
		nv, newHas := news[key]
		if oldHas && ov.IsNull() {
			oldHas = false
		}
		if newHas && nv.IsNull() {
			newHas = false
		}
		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case !oldHas && !newHas:
			continue
		case !oldHas:
			kind = pulumirpc.PropertyDiff_ADD
		case !newHas:
			kind = pulumirpc.PropertyDiff_DELETE
		case nv.ContainsUnknowns() || !ov.DeepEquals(nv):
			kind = pulumirpc.PropertyDiff_UPDATE
		default:
			continue
		}
		if k == "triggers" {
			kind += 1 // ADD->ADD_REPLACE, DELETE->DELETE_REPLACE, UPDATE->UPDATE_REPLACE
			replaces = append(replaces, k)
		}
		detailed[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	var diffs []string
	if len(detailed) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
		for k := range detailed {
			diffs = append(diffs, k)
		}
		sort.Strings(diffs)
	}
	return &pulumirpc.DiffResponse{
		Changes: changes, Replaces: replaces, Diffs: diffs, DetailedDiff: detailed, HasDetailedDiff: true,
	}, nil
}

// outputs are the inputs plus stdout/stderr; secret if any input is secret.
func outputs(news resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := news.Copy()
	if news.ContainsSecrets() {
		if !stdout.IsComputed() {
			stdout = resource.MakeSecret(stdout)
		}
		if !stderr.IsComputed() {
			stderr = resource.MakeSecret(stderr)
		}
	}
	out["stdout"] = stdout
	out["stderr"] = stderr
	return out
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	urn := resource.URN(req.GetUrn())
	news, err := provider.Unmarshal(req.GetProperties(), "create.properties")
	if err != nil {
		return nil, err
	}
	id, err := resource.NewUniqueHex(urn.Name(), 8, 0) // as upstream: the name, then 8 hex
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		unknown := resource.MakeComputed(resource.NewStringProperty(""))
		props, err := provider.Marshal(outputs(news, unknown, unknown), "create.preview")
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: props}, nil
	}
	in, err := parseInputs(news)
	if err != nil {
		return nil, err
	}
	var so, se string
	if in.create != "" {
		if so, se, err = p.run(ctx, urn, in, in.create, nil); err != nil {
			return nil, err
		}
	}
	props, err := provider.Marshal(outputs(news, resource.NewStringProperty(so), resource.NewStringProperty(se)), "create.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func previousOutputEnv(in commandInputs, olds resource.PropertyMap) map[string]string {
	if !in.addPreviousOutputInEnv {
		return nil
	}
	return map[string]string{
		"PULUMI_COMMAND_STDOUT": str(olds, "stdout"),
		"PULUMI_COMMAND_STDERR": str(olds, "stderr"),
	}
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	urn := resource.URN(req.GetUrn())
	olds, err := provider.Unmarshal(req.GetOlds(), "update.olds")
	if err != nil {
		return nil, err
	}
	news, err := provider.Unmarshal(req.GetNews(), "update.news")
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		unknown := resource.MakeComputed(resource.NewStringProperty(""))
		props, err := provider.Marshal(outputs(news, unknown, unknown), "update.preview")
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: props}, nil
	}
	in, err := parseInputs(news)
	if err != nil {
		return nil, err
	}
	command := in.update
	if command == "" {
		command = in.create
	}
	so, se := str(olds, "stdout"), str(olds, "stderr")
	if command != "" {
		if so, se, err = p.run(ctx, urn, in, command, previousOutputEnv(in, olds)); err != nil {
			return nil, err
		}
	}
	props, err := provider.Marshal(outputs(news, resource.NewStringProperty(so), resource.NewStringProperty(se)), "update.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*pbempty.Empty, error) {
	olds, err := provider.Unmarshal(req.GetProperties(), "delete.olds")
	if err != nil {
		return nil, err
	}
	in, err := parseInputs(olds)
	if err != nil {
		return nil, err
	}
	if in.delete != "" {
		if _, _, err := p.run(ctx, resource.URN(req.GetUrn()), in, in.delete, previousOutputEnv(in, olds)); err != nil {
			return nil, err
		}
	}
	return &pbempty.Empty{}, nil
}

// Read keeps what the state says: a command's effects cannot be read back.
func (p *commandProvider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *commandProvider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != runToken {
		return nil, p.UnsupportedFunction(req.GetTok())
	}
	args, err := provider.Unmarshal(req.GetArgs(), "invoke.args")
	if err != nil {
		return nil, err
	}
	in, err := parseInputs(args)
	if err != nil {
		return nil, err
	}
	so, se, err := p.run(ctx, "", in, str(args, "command"), nil)
	if err != nil {
		return nil, err
	}
	out := args.Copy()
	out["stdout"] = resource.NewStringProperty(so)
	out["stderr"] = resource.NewStringProperty(se)
	ret, err := provider.Marshal(out, "invoke.return")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}
