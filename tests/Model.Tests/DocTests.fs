/// The docs cannot rot. In README.md and docs/*.md (conventions: docs/README.md):
/// - a fenced block whose info string is `sh doctest-setup` runs first, then every `sh doctest` block, in file order
///   (README.md, then docs/ alphabetically), each with bash from the repository root under `set -euo pipefail`, with
///   $SCRATCH (an empty folder of this test run) and $TINY ($SCRATCH/tiny, filled by the setup block) set;
/// - every `dotnet fsi scripts/X.fsx ...` named anywhere (in any fenced block, or in inline code) must name a script
///   that exists, and each `--flag` written after it must be listed by that script's `-- --help`.
/// A failure names the file, the line and the command, with the command's output.
module Research.Model.Tests.DocTests

open System
open System.Diagnostics
open System.IO
open System.Reflection
open System.Text
open System.Text.RegularExpressions
open Expecto

/// What a fenced block is for, by its info string.
type BlockKind =
    /// `sh doctest-setup`: runs once, before every other block.
    | Setup
    /// `sh doctest`: runs, in file order.
    | Runnable
    /// Anything else: shown only (its script names and flags are still checked).
    | Shown

/// A fenced block: the file, the line of its opening fence (1-based), its kind and its text.
type Block =
    {
        File: string
        Line: int
        Kind: BlockKind
        Text: string
    }

/// A `dotnet fsi scripts/X.fsx` command named in a document, with the flags written after it.
type ScriptReference =
    {
        File: string
        Line: int
        Script: string
        Flags: string list
        Command: string
    }

let private openingFence = Regex(@"^\s{0,3}(`{3,}|~{3,})\s*([^`]*)$")

let private kindOf (info: string) =
    let words = info.Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries)

    if Array.contains "doctest-setup" words then Setup
    elif Array.contains "doctest" words then Runnable
    else Shown

/// The fenced blocks of a Markdown text, and the lines outside them (with their 1-based numbers).
let parse (file: string) (text: string) : Block list * (int * string) list =
    let lines = text.Replace("\r\n", "\n").Split '\n'
    let blocks = ResizeArray()
    let outside = ResizeArray()
    let mutable i = 0

    while i < lines.Length do
        let m = openingFence.Match lines[i]

        if m.Success then
            let fence = m.Groups[1].Value
            let start = i + 1
            let body = ResizeArray()
            i <- i + 1

            let closes (line: string) =
                let t = line.Trim()
                t.Length >= fence.Length && t |> Seq.forall ((=) fence[0])

            while i < lines.Length && not (closes lines[i]) do
                body.Add lines[i]
                i <- i + 1

            i <- i + 1

            blocks.Add
                {
                    File = file
                    Line = start
                    Kind = kindOf m.Groups[2].Value
                    Text = String.Join("\n", body)
                }
        else
            outside.Add(i + 1, lines[i])
            i <- i + 1

    List.ofSeq blocks, List.ofSeq outside

let private scriptCommand = Regex(@"dotnet fsi scripts/([A-Za-z0-9_-]+)\.fsx")
let private flag = Regex(@"(?<![\w-])--([A-Za-z][\w-]*)")
let private shellSeparator = Regex(@"\|\||&&|;|\||\)")
/// Inline code: a span may wrap onto the next lines of its paragraph, never across a blank line.
let private inlineCode = Regex(@"`((?:[^`\n]|\n(?![ \t]*\n))+)`")

/// The script commands on one line of text: the script name and the flags up to the end of that command.
let private referencesIn (file: string) (line: int) (text: string) =
    let matches = scriptCommand.Matches text |> List.ofSeq

    matches
    |> List.mapi (fun k m ->
        let stop =
            if k + 1 < matches.Length then
                matches[k + 1].Index
            else
                text.Length

        let tail = text.Substring(m.Index + m.Length, stop - m.Index - m.Length)
        let tail = (shellSeparator.Split tail)[0]

        {
            File = file
            Line = line
            Script = m.Groups[1].Value
            Flags = [ for f in flag.Matches tail -> f.Groups[1].Value ]
            Command = (m.Value + tail).Trim()
        })

/// Every script command named in a Markdown text: in fenced blocks (a trailing `\` joins lines; a `#` comment ends
/// the command) and in inline code outside them.
let references (file: string) (text: string) : ScriptReference list =
    let blocks, outside = parse file text

    let inBlocks =
        [
            for b in blocks do
                let lines = b.Text.Split '\n'
                let mutable joined = ""
                let mutable first = 0

                for k in 0 .. lines.Length - 1 do
                    let line = lines[k]

                    if joined = "" then
                        first <- k

                    let code =
                        match line.IndexOf " #" with
                        | -1 -> line
                        | c -> line.Substring(0, c)

                    if code.TrimEnd().EndsWith "\\" then
                        joined <- joined + code.TrimEnd().TrimEnd('\\') + " "
                    else
                        yield! referencesIn file (b.Line + 1 + first) (joined + code)
                        joined <- ""
        ]

    // The lines outside fenced blocks as one text, a blank line where a block was, with each line's number.
    let prose = StringBuilder()
    let starts = ResizeArray<int * int>()
    let mutable previous = 0

    for number, line in outside do
        if number <> previous + 1 then
            prose.Append '\n' |> ignore

        starts.Add(prose.Length, number)
        prose.Append(line).Append '\n' |> ignore
        previous <- number

    let lineAt (offset: int) =
        starts |> Seq.takeWhile (fun (start, _) -> start <= offset) |> Seq.last |> snd

    let inProse =
        [
            for m in inlineCode.Matches(prose.ToString()) do
                yield! referencesIn file (lineAt m.Index) (m.Groups[1].Value.Replace('\n', ' '))
        ]

    inBlocks @ inProse |> List.sortBy (fun r -> r.Line)

/// README.md, then the Markdown files under docs/ in alphabetical order.
let documents (root: string) =
    [
        Path.Combine(root, "README.md")
        let docs = Path.Combine(root, "docs")

        if Directory.Exists docs then
            yield! Directory.GetFiles(docs, "*.md", SearchOption.AllDirectories) |> Array.sort
    ]

/// Runs a program with its output (stdout and stderr together, in order) captured; kills it after the timeout.
let private run (program: string) (args: string list) (env: (string * string) list) (timeoutSeconds: int) =
    let root = ReferenceFiles.root.Value

    let info =
        ProcessStartInfo(program, args, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root)

    for k, v in env do
        info.Environment[k] <- v

    let output = StringBuilder()
    use p = new Process(StartInfo = info)

    let add (e: DataReceivedEventArgs) =
        if not (isNull e.Data) then
            lock output (fun () -> output.AppendLine e.Data |> ignore)

    p.OutputDataReceived.Add add
    p.ErrorDataReceived.Add add
    p.Start() |> ignore
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()

    if p.WaitForExit(timeoutSeconds * 1000) then
        p.WaitForExit() // drains the redirected streams
        Some p.ExitCode, lock output (fun () -> output.ToString())
    else
        p.Kill true
        p.WaitForExit()
        None, lock output (fun () -> output.ToString())

let private tail (n: int) (s: string) =
    if s.Length <= n then s else "…" + s.Substring(s.Length - n)

let private relative (path: string) =
    Path.GetRelativePath(ReferenceFiles.root.Value, path)

/// Debian packages a script installs before it looks at its arguments (an unindented `Research.requireDebian`
/// line; one inside an `if`, as in bench.fsx, is skipped for --help), and those of them not installed.
let private missingBeforeHelp (script: string) =
    let call =
        Regex(@"^Research\.requireDebian\s+""[^""]*""\s*\[(.*)\]", RegexOptions.Multiline)

    [
        for m in call.Matches(File.ReadAllText script) do
            for p in Regex.Matches(m.Groups[1].Value, @"""([^""]+)""") -> p.Groups[1].Value
    ]
    |> List.filter (fun p ->
        let code, out = run "dpkg-query" [ "-W"; "-f=${Status}"; p ] [] 30

        code <> Some 0 || not (out.Contains "install ok installed"))

/// The flags a script's help lists. test.fsx passes its arguments to the Expecto runners, so its flags are
/// Expecto's (this runner's --help). A script that would install Debian packages before answering --help is read
/// from its header comment instead, with a notice, so the tests never install them.
let private helpFlags (name: string) : Result<Set<string>, string> =
    let root = ReferenceFiles.root.Value
    let script = Path.Combine(root, "scripts", name + ".fsx")

    let flagsOf (text: string) =
        [ for f in flag.Matches text -> f.Groups[1].Value ] |> Set.ofList

    if name = "test" then
        let code, out =
            run "dotnet" [ Assembly.GetEntryAssembly().Location; "--help" ] [] 120

        if code = Some 0 then
            Ok(flagsOf out)
        else
            Error $"the test runner's --help failed ({code}):\n{tail 3000 out}"
    else
        match missingBeforeHelp script with
        | [] ->
            let code, out = run "dotnet" [ "fsi"; script; "--"; "--help" ] [] 300

            if code = Some 0 then
                Ok(flagsOf out)
            else
                Error $"'dotnet fsi scripts/{name}.fsx -- --help' failed ({code}):\n{tail 3000 out}"
        | missing ->
            let header =
                File.ReadLines script
                |> Seq.takeWhile (fun l -> l.StartsWith "//")
                |> String.concat "\n"

            printfn
                "docs: scripts/%s.fsx would install %s before answering --help; its flags are read from its header comment"
                name
                (String.Join(", ", missing))

            Ok(flagsOf header)

/// Runs one block with bash from the repository root; None when it succeeded, else the failure's description.
let private runBlock (env: (string * string) list) (scratch: string) (k: int) (b: Block) =
    let file = Path.Combine(scratch, $"block{k}.sh")
    File.WriteAllText(file, "set -euo pipefail\n" + b.Text + "\n")
    let clock = Stopwatch.StartNew()
    let code, out = run "bash" [ file ] env 600
    printfn "docs: %s:%d ran in %.1f s" (relative b.File) b.Line clock.Elapsed.TotalSeconds

    match code with
    | Some 0 -> None
    | _ ->
        let status =
            match code with
            | Some c -> $"exit code {c}"
            | None -> "killed after 600 s"

        Some $"{relative b.File}:{b.Line}: {status}\ncommand:\n{b.Text}\noutput:\n{tail 6000 out}"

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Docs"
        [
            test "blocks are found with their kind and line; script commands with their flags, in blocks and inline code" {
                let text =
                    String.concat
                        "\n"
                        [
                            "# Title" // 1
                            "Run `dotnet fsi scripts/a.fsx -- --x 1 --y-z` or `ls --all` or `dotnet fsi" // 2
                            "scripts/e.fsx --wrapped`." // 3
                            "```sh doctest-setup" // 4
                            "dotnet fsi scripts/a.fsx -- --corpus tiny \\" // 5
                            "  --data \"$TINY/data\" # --not-this" // 6
                            "```" // 7
                            "```sh doctest" // 8
                            "dotnet fsi scripts/b.fsx --k v && dotnet fsi scripts/c.fsx -- --help | head" // 9
                            "```" // 10
                            "````" // 11
                            "dotnet fsi scripts/d.fsx [--opt N]" // 12
                            "```" // 13
                            "````" // 14
                        ]

                let blocks, _ = parse "f.md" text

                Expect.equal (blocks |> List.map (fun b -> b.Line, b.Kind)) [ 4, Setup; 8, Runnable; 11, Shown ] "kinds and opening lines"

                Expect.equal blocks[2].Text "dotnet fsi scripts/d.fsx [--opt N]\n```" "a longer fence holds a shorter one"

                let refs = references "f.md" text

                Expect.equal
                    (refs |> List.map (fun r -> r.Line, r.Script, r.Flags))
                    [
                        2, "a", [ "x"; "y-z" ]
                        2, "e", [ "wrapped" ]
                        5, "a", [ "corpus"; "data" ]
                        9, "b", [ "k" ]
                        9, "c", [ "help" ]
                        12, "d", [ "opt" ]
                    ]
                    "scripts and flags"
            }

            test "every script named in README.md and docs/ exists and takes the flags written after it" {
                let root = ReferenceFiles.root.Value

                // A name in capitals (scripts/X.fsx, scripts/NAME.fsx) is a placeholder.
                let refs =
                    documents root
                    |> List.collect (fun f -> references f (File.ReadAllText f))
                    |> List.filter (fun r -> r.Script.ToUpperInvariant() <> r.Script)

                Expect.isNonEmpty refs "the docs name scripts"

                let missing =
                    refs
                    |> List.filter (fun r -> not (File.Exists(Path.Combine(root, "scripts", r.Script + ".fsx"))))
                    |> List.map (fun r -> $"{relative r.File}:{r.Line}: no scripts/{r.Script}.fsx ({r.Command})")

                Expect.isEmpty missing (String.concat "\n" missing)

                let clock = Stopwatch.StartNew()

                // The first script alone (it rebuilds when the sources changed since the last build), then two at a time.
                let scripts = refs |> List.map _.Script |> List.distinct
                let first = scripts.Head, helpFlags scripts.Head

                let helps =
                    scripts.Tail
                    |> List.map (fun s -> async { return s, helpFlags s })
                    |> fun jobs -> Async.Parallel(jobs, 2)
                    |> Async.RunSynchronously
                    |> Array.append [| first |]
                    |> Map.ofArray

                printfn "docs: %d scripts' --help in %.1f s" helps.Count clock.Elapsed.TotalSeconds

                let failures =
                    [
                        for s, h in Map.toList helps do
                            match h with
                            | Error e -> yield e
                            | Ok _ -> ()
                        for r in refs do
                            match helps[r.Script] with
                            | Ok known ->
                                let unknown = r.Flags |> List.filter (fun f -> not (known.Contains f))

                                if not unknown.IsEmpty then
                                    let names = unknown |> List.map (fun f -> "--" + f) |> String.concat ", "

                                    yield
                                        $"{relative r.File}:{r.Line}: {names} not in 'dotnet fsi scripts/{r.Script}.fsx -- --help' ({r.Command})"
                            | Error _ -> ()
                    ]

                Expect.isEmpty failures (String.concat "\n" failures)
            }

            test "every runnable block of README.md and docs/ runs on the tiny demo corpus" {
                let root = ReferenceFiles.root.Value

                let blocks =
                    documents root |> List.collect (fun f -> fst (parse f (File.ReadAllText f)))

                let setup = blocks |> List.filter (fun b -> b.Kind = Setup)
                let runnable = blocks |> List.filter (fun b -> b.Kind = Runnable)
                Expect.isNonEmpty setup "a doctest-setup block (docs/README.md)"
                Expect.isNonEmpty runnable "runnable blocks"

                let scratch =
                    Path.Combine(Path.GetTempPath(), $"research-doctest-{Guid.NewGuid():N}")

                let tiny = Path.Combine(scratch, "tiny")
                Directory.CreateDirectory tiny |> ignore
                let env = [ "SCRATCH", scratch; "TINY", tiny ]
                let clock = Stopwatch.StartNew()

                let failures =
                    [
                        for k, b in List.indexed setup do
                            match runBlock env scratch k b with
                            | Some failure -> failtestf "the setup block failed, nothing else ran (scratch kept: %s):\n%s" scratch failure
                            | None -> ()
                        for k, b in List.indexed runnable do
                            match runBlock env scratch (setup.Length + k) b with
                            | Some failure -> yield failure
                            | None -> ()
                    ]

                printfn "docs: %d blocks ran in %.1f s" (setup.Length + runnable.Length) clock.Elapsed.TotalSeconds

                if failures.IsEmpty then
                    Directory.Delete(scratch, true)
                else
                    failtestf
                        "%d of %d runnable blocks failed (scratch kept: %s)\n\n%s"
                        failures.Length
                        runnable.Length
                        scratch
                        (String.concat "\n\n" failures)
            }
        ]
