// Package pipeline turns HCL station files into runnable profiles.
//
// It works in phases, as Packer's hcl2template does:
//
//  1. Load (load.go): one hclparse.Parser reads every file; it is kept so
//     diagnostics can render source snippets.
//  2. Decode (decode.go): station, variable, locals, source and profile
//     blocks are decoded with static values only. Every step block is
//     decoded in two parts: the meta-arguments every step accepts (StepMeta,
//     owned here) and the rest of its body into the kind's own struct, which
//     lives in package steps and is handed in through a Registry.
//  3. Compile (compile.go): each profile's steps are checked for order
//     against their kinds' declarations (Kind) and fused into stages: the
//     steps of Fused kinds become the one write stage, which the executor
//     streams as one sequential plan; every other step is a stage of its
//     own. Per-device expressions (labels) are type-checked with an unknown
//     device so a typo such as device.serail fails in CI, not when a stick
//     arrives.
//  4. Run: for each stick, Job.EvalContext makes a child evaluation context
//     holding the real device; only expressions are evaluated then. Each
//     stage's Runner reports what it did as an Outcome.
//
// Package pipeline never imports package steps: the kinds are passed in by
// cmd/flashpipe (steps.Builtin()).
package pipeline
