// pulumi-language-python: a minimal Python language host for the Pulumi CLI.
//
// The upstream host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) is
// not served by the Go module proxy that this project can reach, so
// proving-ground/bootstrap-pulumi.sh builds this one instead. It speaks the same LanguageRuntime gRPC protocol and runs programs the
// same way upstream does: through the `pulumi-language-python-exec` script of the Pulumi SDK
// (copied next to this binary by the bootstrap script), inside the project's virtualenv, resolved
// by the SDK's own python/toolchain package (options: virtualenv, toolchain, typechecker).
//
// What it implements: Handshake, GetPluginInfo, GetRequiredPlugins, GetRequiredPackages, Run,
// InstallDependencies, GetProgramDependencies, About, RuntimeOptionsPrompts, and RunPlugin for
// policy packs (kind "analyzer", `--policy-pack DIR`: see policy.go), as upstream v3.259.0 does it.
// Not implemented: RunPlugin for other plugin kinds and with a debugger attached (refused with
// codes.Unimplemented), code generation (GenerateProject/GeneratePackage/Pack...): neither is
// needed to deploy.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// version is set with -ldflags "-X main.version=..." by the bootstrap script.
var version = "3.259.0"

// Exit code the exec script uses after it printed a message meant for the user: no stack trace.
const bailExitCode = 32

func main() {
	var engineAddress, tracing string
	for _, a := range os.Args[1:] {
		switch {
		case strings.HasPrefix(a, "-tracing="), strings.HasPrefix(a, "--tracing="):
			tracing = a[strings.Index(a, "=")+1:]
		case strings.HasPrefix(a, "-"):
			// -root, -binary, -logtostderr, -v=N, ...: accepted and ignored.
		default:
			engineAddress = a
		}
	}
	logging.InitLogging(false, 0, false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if engineAddress != "" {
		// Exit when the engine goes away, as every plugin must.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			fmt.Fprintf(os.Stderr, "fatal: could not start health check host RPC server: %v\n", err)
			os.Exit(1)
		}
	}

	host := &languageHost{engineAddress: engineAddress, tracing: tracing}
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancelChannel)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: could not start language host RPC server: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "fatal: language host RPC stopped serving: %v\n", err)
		os.Exit(1)
	}
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
}

// execScript is the SDK's pulumi-language-python-exec, which must sit next to this binary.
func execScript() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	p := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("pulumi-language-python-exec not found next to %s: %w", self, err)
	}
	return p, nil
}

// options are the `runtime.options` of Pulumi.yaml.
type options struct {
	virtualenv  string
	toolchain   string
	typechecker string
}

func parseOptions(info *pulumirpc.ProgramInfo) (options, error) {
	var o options
	if info == nil || info.Options == nil {
		return o, nil
	}
	m := info.Options.AsMap()
	get := func(k string) (string, error) {
		v, ok := m[k]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("runtime option %q must be a string, got %T", k, v)
		}
		return s, nil
	}
	var err error
	if o.virtualenv, err = get("virtualenv"); err != nil {
		return o, err
	}
	if o.toolchain, err = get("toolchain"); err != nil {
		return o, err
	}
	if o.typechecker, err = get("typechecker"); err != nil {
		return o, err
	}
	return o, nil
}

func resolveToolchain(info *pulumiProgram) (toolchain.Toolchain, options, error) {
	o, err := parseOptions(info.info)
	if err != nil {
		return nil, o, err
	}
	popts := toolchain.PythonOptions{
		Root:       info.root,
		ProgramDir: info.programDir,
		Virtualenv: o.virtualenv,
	}
	switch strings.ToLower(o.toolchain) {
	case "", "pip":
		popts.Toolchain = toolchain.Pip
	case "poetry":
		popts.Toolchain = toolchain.Poetry
	case "uv":
		popts.Toolchain = toolchain.Uv
	case "auto":
		popts.Toolchain = toolchain.Auto
	default:
		return nil, o, fmt.Errorf("unsupported toolchain option %q (want pip, poetry, uv or auto)", o.toolchain)
	}
	switch strings.ToLower(o.typechecker) {
	case "":
		popts.Typechecker = toolchain.TypeCheckerNone
	case "mypy":
		popts.Typechecker = toolchain.TypeCheckerMypy
	case "pyright":
		popts.Typechecker = toolchain.TypeCheckerPyright
	default:
		return nil, o, fmt.Errorf("unsupported typechecker option %q (want mypy or pyright)", o.typechecker)
	}
	tc, err := toolchain.ResolveToolchain(popts)
	return tc, o, err
}

type pulumiProgram struct {
	info       *pulumirpc.ProgramInfo
	root       string
	programDir string
	entryPoint string
}

func programFrom(info *pulumirpc.ProgramInfo, fallbackDir string) *pulumiProgram {
	p := &pulumiProgram{info: info, root: fallbackDir, programDir: fallbackDir, entryPoint: "."}
	if info != nil {
		if info.RootDirectory != "" {
			p.root = info.RootDirectory
		}
		if info.ProgramDirectory != "" {
			p.programDir = info.ProgramDirectory
		}
		if info.EntryPoint != "" {
			p.entryPoint = info.EntryPoint
		}
	}
	if p.root == "" {
		p.root, _ = os.Getwd()
	}
	if p.programDir == "" {
		p.programDir = p.root
	}
	return p
}

func (h *languageHost) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(ctx context.Context, _ *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// pluginScript lists the installed distributions that carry a pulumi-plugin.json (every
// generated Pulumi SDK does) and prints what their plugin files say, as JSON.
const pluginScript = `
import importlib.metadata as md, json, sys
out, seen = [], set()
for dist in md.distributions():
    for f in dist.files or []:
        if f.name != "pulumi-plugin.json":
            continue
        try:
            with open(dist.locate_file(f)) as fh:
                data = json.load(fh)
        except Exception:
            continue
        if not data.get("resource") or not data.get("name"):
            continue
        key = (data["name"], data.get("version", ""))
        if key in seen:
            continue
        seen.add(key)
        out.append({"name": data["name"], "version": data.get("version", ""),
                    "server": data.get("server", ""), "parameterization": data.get("parameterization")})
json.dump(out, sys.stdout)
`

type pluginJSON struct {
	Name             string `json:"name"`
	Version          string `json:"version"`
	Server           string `json:"server"`
	Parameterization *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Value   []byte `json:"value"`
	} `json:"parameterization"`
}

func (h *languageHost) requiredPackages(ctx context.Context, info *pulumirpc.ProgramInfo) ([]*pulumirpc.PackageDependency, error) {
	prog := programFrom(info, "")
	tc, _, err := resolveToolchain(prog)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		// No virtualenv yet: nothing to report; Run explains what to do.
		logging.V(5).Infof("GetRequiredPackages: %v", err)
		return nil, nil
	}
	cmd, err := tc.Command(ctx, "-c", pluginScript)
	if err != nil {
		return nil, err
	}
	cmd.Dir = prog.programDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the Pulumi packages installed for the program: %w: %s", err, stderr.String())
	}
	var plugins []pluginJSON
	if err := json.Unmarshal(out, &plugins); err != nil {
		return nil, fmt.Errorf("parsing the list of Pulumi packages: %w", err)
	}
	deps := make([]*pulumirpc.PackageDependency, 0, len(plugins))
	for _, p := range plugins {
		v := p.Version
		if v != "" && !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		dep := &pulumirpc.PackageDependency{Kind: "resource", Name: p.Name, Version: v, Server: p.Server}
		if p.Parameterization != nil {
			pv := p.Parameterization.Version
			if pv != "" && !strings.HasPrefix(pv, "v") {
				pv = "v" + pv
			}
			dep.Parameterization = &pulumirpc.PackageParameterization{
				Name: p.Parameterization.Name, Version: pv, Value: p.Parameterization.Value,
			}
		}
		deps = append(deps, dep)
	}
	return deps, nil
}

func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *languageHost) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	var plugins []*pulumirpc.PluginDependency
	for _, d := range deps {
		if d.Parameterization != nil {
			continue
		}
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: d.Name, Kind: d.Kind, Version: d.Version, Server: d.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	prog := programFrom(req.GetInfo(), req.GetPwd())
	tc, opts, err := resolveToolchain(prog)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf(
			"%v\nRun `pulumi install` (or create the virtualenv and pip install -r requirements.txt) first.", err)}, nil
	}

	if opts.typechecker != "" {
		module := strings.ToLower(opts.typechecker)
		tcmd, err := tc.ModuleCommand(ctx, module, prog.programDir)
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
		tcmd.Dir = prog.programDir
		tcmd.Stdout, tcmd.Stderr = os.Stdout, os.Stderr
		if err := tcmd.Run(); err != nil {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("%s failed: %v", module, err)}, nil
		}
	}

	script, err := execScript()
	if err != nil {
		return nil, err
	}
	program := req.GetProgram()
	if program == "" {
		program = prog.entryPoint
	}
	args := []string{
		"-u", script,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	if prog.root != "" {
		args = append(args, "--root_directory", prog.root)
	}
	if h.tracing != "" {
		args = append(args, "--tracing", h.tracing)
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	cfg := req.GetConfig()
	if cfg == nil {
		cfg = map[string]string{}
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env,
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secrets),
		"PYTHONUNBUFFERED=1",
	)
	cmd.Dir = req.GetPwd()
	// The engine turns what a language host prints into the stack's diagnostics.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumiRunBail, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf(
				"Program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

var pulumiRunBail = pulumirpc.RunResponse{Bail: true}

// streamWriter forwards InstallDependencies output to the engine.
type streamWriter struct {
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	data := append([]byte(nil), p...)
	resp := &pulumirpc.InstallDependenciesResponse{Stdout: data}
	if w.stderr {
		resp = &pulumirpc.InstallDependenciesResponse{Stderr: data}
	}
	if err := w.stream.Send(resp); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	prog := programFrom(req.GetInfo(), req.GetDirectory())
	tc, _, err := resolveToolchain(prog)
	if err != nil {
		return err
	}
	var stdout, stderr io.Writer = streamWriter{stream: stream}, streamWriter{stream: stream, stderr: true}
	return tc.InstallDependencies(stream.Context(), prog.programDir, req.GetUseLanguageVersionTools(),
		true /*showOutput*/, stdout, stderr)
}

func (h *languageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	prog := programFrom(req.GetInfo(), req.GetPwd())
	tc, _, err := resolveToolchain(prog)
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	prog := programFrom(req.GetInfo(), "")
	tc, _, err := resolveToolchain(prog)
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata:   map[string]string{"host": "laravel-stack minimal language host"},
	}, nil
}

func (h *languageHost) RuntimeOptionsPrompts(
	ctx context.Context, req *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *languageHost) GenerateProject(
	context.Context, *pulumirpc.GenerateProjectRequest,
) (*pulumirpc.GenerateProjectResponse, error) {
	return nil, status.Error(codes.Unimplemented, "code generation is not supported by this language host")
}
