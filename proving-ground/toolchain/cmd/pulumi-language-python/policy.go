package main

// RunPlugin for policy packs (kind "analyzer"), as upstream pulumi-language-python v3.259.0 does
// it (sdk/python/cmd/pulumi-language-python/main.go, RunPlugin): the CLI launches a Python policy
// pack (`--policy-pack DIR`, PulumiPolicy.yaml `runtime: python`) through the language host, which
// runs `python -u -m pulumi.policy <args...> <pack dir>` in the pack's virtualenv, with the pack
// directory as working directory, behind the SDK's policy proxy (sdk.NewPolicyProxy) that hands the
// stack configuration to the pack through PULUMI_ORGANIZATION/PROJECT/STACK/DRY_RUN/CONFIG.
//
// Not implemented, refused with codes.Unimplemented: other plugin kinds (Python resource, converter
// and tool plugins) and --attach-debugger.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// pluginPythonOptions is upstream's parseOptions, verbatim: unlike resolveToolchain (used by Run)
// it leaves an unset toolchain at toolchain.Auto (lockfile detection), rejects "auto", and matches
// the option values case-sensitively. Plugins other than analyzers default the virtualenv to "venv".
func pluginPythonOptions(
	root string, programDir string, options map[string]any, isPlugin bool,
) (toolchain.PythonOptions, error) {
	pythonOptions := toolchain.PythonOptions{
		Root:       root,
		ProgramDir: programDir,
	}

	if virtualenv, ok := options["virtualenv"]; ok {
		if virtualenv, ok := virtualenv.(string); ok {
			pythonOptions.Virtualenv = virtualenv
		} else {
			return pythonOptions, errors.New("virtualenv option must be a string")
		}
	}

	if typechecker, ok := options["typechecker"]; ok {
		if typechecker, ok := typechecker.(string); ok {
			switch typechecker {
			case "mypy":
				pythonOptions.Typechecker = toolchain.TypeCheckerMypy
			case "pyright":
				pythonOptions.Typechecker = toolchain.TypeCheckerPyright
			default:
				return pythonOptions, fmt.Errorf("unsupported typechecker option: %s", typechecker)
			}
		} else {
			return pythonOptions, errors.New("typechecker option must be a string")
		}
	}

	if tc, ok := options["toolchain"]; ok {
		if tc, ok := tc.(string); ok {
			switch tc {
			case "pip":
				pythonOptions.Toolchain = toolchain.Pip
			case "poetry":
				pythonOptions.Toolchain = toolchain.Poetry
			case "uv":
				pythonOptions.Toolchain = toolchain.Uv
			default:
				return pythonOptions, fmt.Errorf("unsupported toolchain option: %s", tc)
			}
		} else {
			return pythonOptions, errors.New("toolchain option must be a string")
		}
	}

	if isPlugin && (pythonOptions.Toolchain == toolchain.Pip || pythonOptions.Toolchain == toolchain.Auto) &&
		pythonOptions.Virtualenv == "" {
		pythonOptions.Virtualenv = "venv"
	}

	return pythonOptions, nil
}

// policyPackArgs is the python command line of a policy pack run from its directory: the pack
// directory comes last (it is the `program` argument of pulumi.policy's __main__).
func policyPackArgs(reqArgs []string, programDir string) []string {
	args := []string{"-u", "-m", "pulumi.policy"}
	args = append(args, reqArgs...)
	return append(args, programDir)
}

// policyPackEnv appends what upstream appends to the environment of the policy pack process: the
// stack configuration the engine sent to the proxy (each variable only when non-empty), then the
// environment the engine asked for (which therefore wins over the virtualenv's, as upstream).
func policyPackEnv(
	env []string, config *pulumirpc.AnalyzerStackConfigureRequest, reqEnv []string,
) ([]string, error) {
	if config != nil {
		maybeAppendEnv := func(k, v string) {
			if v != "" {
				env = append(env, k+"="+v)
			}
		}
		maybeAppendEnv("PULUMI_ORGANIZATION", config.Organization)
		maybeAppendEnv("PULUMI_PROJECT", config.Project)
		maybeAppendEnv("PULUMI_STACK", config.Stack)
		maybeAppendEnv("PULUMI_DRY_RUN", strconv.FormatBool(config.DryRun))
		if config.Config != nil {
			configJSON, err := json.Marshal(config.Config)
			if err != nil {
				return nil, fmt.Errorf("could not marshal stack configuration: %w", err)
			}
			maybeAppendEnv("PULUMI_CONFIG", string(configJSON))
		}
	}
	return append(env, reqEnv...), nil
}

func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	info := req.GetInfo()
	logging.V(5).Infof("Attempting to run python plugin in %s with args %v", info.GetProgramDirectory(), req.Args)
	ctx := server.Context()

	if h.engineAddress == "" {
		return errors.New("when debugging or running explicitly, must call Handshake before Run")
	}
	if req.Kind != string(apitype.AnalyzerPlugin) {
		return status.Errorf(codes.Unimplemented,
			"running Python plugins of kind %q is not supported by this language host (only policy packs, kind %q)",
			req.Kind, apitype.AnalyzerPlugin)
	}
	if req.GetAttachDebugger() {
		return status.Error(codes.Unimplemented,
			"attaching a debugger to a Python policy pack is not supported by this language host")
	}

	isPlugin := req.Kind != string(apitype.AnalyzerPlugin)
	opts, err := pluginPythonOptions(info.GetRootDirectory(), info.GetProgramDirectory(), info.GetOptions().AsMap(), isPlugin)
	if err != nil {
		return err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return err
	}

	var cmd *exec.Cmd

	hasMainPy := true
	mainPy := filepath.Join(opts.Root, "__main__.py")
	if _, err = os.Stat(mainPy); err != nil {
		if os.IsNotExist(err) {
			hasMainPy = false
		} else {
			return fmt.Errorf("looking for __main__.py: %w", err)
		}
	}

	// As upstream: a pack whose SDK has `pulumi.run.plugin` and that has no __main__.py is run as
	// a buildable package through that module.
	hasPluginRunModule := true
	checkModuleCmd, err := tc.Command(ctx, "-c", "import pulumi.run.plugin")
	if err != nil {
		return err
	}
	if out, err := checkModuleCmd.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "ModuleNotFoundError") {
			hasPluginRunModule = false
		}
	}

	args := []string{}
	if hasPluginRunModule && !hasMainPy {
		buildable, err := toolchain.IsBuildablePackage(opts.Root)
		if err != nil {
			return fmt.Errorf("checking if plugin is a buildable package: %w", err)
		}
		if !buildable {
			return errors.New("plugin is not runnable, it provides neither __main__.py nor a buildable pyproject.toml")
		}

		pyproject, err := toolchain.LoadPyproject(opts.Root)
		if err != nil {
			return fmt.Errorf("loading pyproject: %w", err)
		}

		args = append(args, pyproject.Project.Name)
		args = append(args, req.Args...)
		cmd, err = tc.ModuleCommand(ctx, "pulumi.run.plugin", args...)
		if err != nil {
			return err
		}
		logging.V(5).Infof("RunPlugin: %s", cmd.String())
	} else {
		cmd, err = tc.Command(ctx, policyPackArgs(req.Args, info.GetProgramDirectory())...)
		if err != nil {
			return err
		}
	}

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	// best effort close, but we try an explicit close and error check at the end as well
	defer closer.Close()

	// Policy packs run in their own directory, not the program's (upstream: back compatibility).
	cmd.Dir = info.GetProgramDirectory()

	// The proxy answers the engine's Handshake and ConfigureStack itself, so that the pack process
	// can be started with the stack configuration in its environment; then it forwards the rest.
	policyPackServer, stdout, err := sdk.NewPolicyProxy(ctx, stdout)
	if err != nil {
		return fmt.Errorf("could not start policy pack proxy: %w", err)
	}

	config, err := policyPackServer.AwaitConfiguration(ctx)
	if err != nil {
		return fmt.Errorf("could not get stack configuration: %w", err)
	}

	if cmd.Env, err = policyPackEnv(cmd.Env, config, req.Env); err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	run := func() error {
		err := cmd.Start()
		if err != nil {
			return err
		}
		err = policyPackServer.Attach(ctx, cmd)
		if err != nil {
			return fmt.Errorf("could not attach policy pack proxy: %w", err)
		}
		return nil
	}

	if err = run(); err != nil {
		var exiterr *exec.ExitError
		if errors.As(err, &exiterr) {
			if ws, ok := exiterr.Sys().(syscall.WaitStatus); ok {
				return server.Send(&pulumirpc.RunPluginResponse{
					//nolint:gosec // WaitStatus always uses the lower 8 bits for the exit code.
					Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(ws.ExitStatus())},
				})
			}
			if len(exiterr.Stderr) > 0 {
				return fmt.Errorf("program exited unexpectedly: %w: %s", exiterr, exiterr.Stderr)
			}
			return fmt.Errorf("program exited unexpectedly: %w", exiterr)
		}
		return fmt.Errorf("problem executing plugin program (could not run language executor): %w", err)
	}

	return closer.Close()
}
