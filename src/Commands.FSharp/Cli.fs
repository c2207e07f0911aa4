/// Command-line helpers shared by the entry points: flags of the form --name value (and bare switches), usage texts
/// built from the same flag list the parser accepts, suggestions for mistyped flags, and running a command by name.
module Research.Commands.Cli

open System
open System.IO
open Research.Experiments.Errors

/// A usage error: the entry point prints it with its usage text and exits with 2.
exception UsageError of string

/// Flags given as --name value pairs, and switches given alone. A flag may repeat (e.g. --set).
type Flags =
    {
        /// The last value of each flag.
        Values: Map<string, string>
        /// Every value of each flag, in order.
        All: Map<string, string list>
        /// The switches given (names without --).
        Switches: Set<string>
    }

    /// Every value given for --name, in order (empty when absent).
    member this.Every(name: string) =
        this.All |> Map.tryFind name |> Option.defaultValue []

    /// The value of --name, when given.
    member this.TryGet(name: string) = this.Values |> Map.tryFind name

    /// The value of --name, or the default.
    member this.Get(name: string, fallback: string) =
        this.TryGet name |> Option.defaultValue fallback

    /// The value of --name; a usage error when it is absent.
    member this.Required(name: string) =
        match this.TryGet name with
        | Some v -> v
        | None -> raise (UsageError $"--{name} is required")

    /// The integer value of --name, or the default.
    member this.Int(name: string, fallback: int) =
        match this.TryGet name with
        | None -> fallback
        | Some v ->
            match Int32.TryParse v with
            | true, n -> n
            | _ -> raise (UsageError $"--{name} expects an integer, got '{v}'")

    /// Whether the switch --name was given.
    member this.Has(name: string) = this.Switches.Contains name

/// The edit distance between two strings: the fewest insertions, deletions, substitutions and swaps of two
/// neighbouring letters that turn one into the other (optimal string alignment; a swap is one typo, not two).
let editDistance (a: string) (b: string) : int =
    let d = Array2D.zeroCreate (a.Length + 1) (b.Length + 1)

    for i in 0 .. a.Length do
        d[i, 0] <- i

    for j in 0 .. b.Length do
        d[0, j] <- j

    for i in 1 .. a.Length do
        for j in 1 .. b.Length do
            let substitution = if a[i - 1] = b[j - 1] then 0 else 1
            d[i, j] <- min (min (d[i - 1, j] + 1) (d[i, j - 1] + 1)) (d[i - 1, j - 1] + substitution)

            if i > 1 && j > 1 && a[i - 1] = b[j - 2] && a[i - 2] = b[j - 1] then
                d[i, j] <- min d[i, j] (d[i - 2, j - 2] + 1)

    d[a.Length, b.Length]

/// The known name closest to `given` by edit distance, when it is close: at most one edit for names up to five
/// letters, two up to eight, three beyond (so --seed finds --seeds, while --xyz finds nothing). Ties go to the name
/// listed first.
let suggest (known: string list) (given: string) : string option =
    let allowed = max 1 (min 3 (given.Length / 3))

    known
    |> List.map (fun k -> k, editDistance given k)
    |> List.filter (fun (_, d) -> d <= allowed)
    |> List.sortBy snd
    |> List.tryHead
    |> Option.map fst

/// The usage error for an unknown flag: the closest valid flag when one is close, otherwise all of them.
let unknownFlag (known: string list) (flag: string) =
    match suggest known (flag.TrimStart '-') with
    | Some name -> UsageError $"unknown flag {flag}; did you mean --{name}?"
    | None ->
        let names = known |> List.map (fun k -> "--" + k) |> String.concat ", "
        UsageError $"unknown flag {flag}; known: {names}"

/// Parses --name value pairs and bare --switch flags, accepting only the names given.
let parseWith (switches: string list) (known: string list) (argv: string array) : Flags =
    let rec go pairs given =
        function
        | [] -> List.rev pairs, given
        | (flag: string) :: rest when flag.StartsWith "--" ->
            let name = flag.Substring 2

            if List.contains name switches then
                go pairs (Set.add name given) rest
            elif not (List.contains name known) then
                raise (unknownFlag (known @ switches) flag)
            else
                match rest with
                | value :: rest' when not (value.StartsWith "--") -> go ((name, value) :: pairs) given rest'
                | _ -> raise (UsageError $"{flag} needs a value")
        | other :: _ -> raise (UsageError $"unexpected argument '{other}'")

    let pairs, given = go [] Set.empty (List.ofArray argv)

    {
        Values = pairs |> Map.ofList
        All =
            pairs
            |> List.groupBy fst
            |> List.map (fun (k, vs) -> k, List.map snd vs)
            |> Map.ofList
        Switches = given
    }

/// Parses --name value pairs, accepting only the names given.
let parse (known: string list) (argv: string array) : Flags = parseWith [] known argv

/// Whether the arguments ask for help (after `--`, since dotnet fsi keeps --help for itself).
let wantsHelp (argv: string array) =
    argv |> Array.exists (fun a -> a = "--help" || a = "-h")

/// One flag of a command, as its usage shows it.
type Flag =
    {
        /// The name without the leading --.
        Name: string
        /// What the value looks like (e.g. N, DIR, demo|paper); empty for a switch, which takes no value.
        Value: string
        /// The default, as the user would type it or as a phrase ("required", "none", "off").
        Default: string
        /// What it does.
        Help: string
    }

/// A flag taking a value.
let flag (name: string) (value: string) (fallback: string) (help: string) =
    {
        Name = name
        Value = value
        Default = fallback
        Help = help
    }

/// A switch: a flag given alone, off unless given.
let switch (name: string) (help: string) =
    {
        Name = name
        Value = ""
        Default = "off"
        Help = help
    }

/// What a command's usage says: how to call it, its flags with their defaults, examples, and notes.
type Usage =
    {
        /// The script (e.g. scripts/pretrain.fsx).
        Script: string
        /// What follows the script name in the synopsis (e.g. "lfbe [flags]").
        Synopsis: string
        /// One line on what the command does.
        Summary: string
        Flags: Flag list
        /// Full command lines.
        Examples: string list
        /// Further lines (formats, what is reused, where output goes).
        Notes: string list
    }

/// Parses the arguments against a usage's flags (switches and flags with values).
let parseUsage (u: Usage) (argv: string array) : Flags =
    let switches, valued = u.Flags |> List.partition (fun f -> f.Value = "")
    parseWith (switches |> List.map _.Name) (valued |> List.map _.Name) argv

/// The usage text: synopsis, summary, one line per flag with its default, notes, examples and how to get help.
let render (u: Usage) : string =
    let shown (f: Flag) =
        if f.Value = "" then
            $"--{f.Name}"
        else
            $"--{f.Name} {f.Value}"

    let width = u.Flags |> List.map (shown >> String.length) |> List.fold max 0

    [
        yield $"usage: dotnet fsi {u.Script} -- {u.Synopsis}"
        yield $"  {u.Summary}"
        if not u.Flags.IsEmpty then
            yield "flags:"

            for f in u.Flags do
                yield $"  {(shown f).PadRight width}  {f.Help} (default: {f.Default})"
        for n in u.Notes do
            yield $"  {n}"
        yield "examples:"
        for e in u.Examples do
            yield $"  {e}"
        yield $"help: dotnet fsi {u.Script} -- --help"
    ]
    |> String.concat "\n"

/// A command the scripts run by name: its usage text and its entry point (arguments → exit code).
type Command =
    {
        Name: string
        Usage: string
        Main: string array -> int
    }

/// A command from its usage and entry point.
let command (name: string) (usage: Usage) (main: string array -> int) =
    {
        Name = name
        Usage = render usage
        Main = main
    }

/// Runs `body` on the arguments unless they ask for help: Ok its value; Error 0 after writing the usage to `out` for
/// --help; Error 2 after writing the message and the usage to `err` for a usage error or an invalid setting; Error 1
/// after writing the message to `err` when a run folder does not match the request (RunConfigMismatchException).
let guardedWith (out: TextWriter) (err: TextWriter) (usage: string) (body: string array -> 'T) (argv: string array) =
    if wantsHelp argv then
        out.WriteLine usage
        Error 0
    else
        try
            Ok(body argv)
        with
        | UsageError message
        | InvalidSetting message ->
            err.WriteLine $"{message}\n{usage}"
            Error 2
        | :? Research.Model.Training.RunConfigMismatchException as e ->
            // A run folder that does not match the request: the message names the folder, the keys and --fresh.
            err.WriteLine $"error: {e.Message}"
            Error 1

/// `guardedWith` on the console.
let guarded (usage: string) (body: string array -> 'T) (argv: string array) : Result<'T, int> =
    guardedWith Console.Out Console.Error usage body argv

/// Runs the named command of `commands` (see `guardedWith`): its exit code, 0 for --help, 2 for a usage error or an
/// invalid setting; an unknown command names the known ones (exit 2). Help and errors go to `out` and `err`.
let runWith (out: TextWriter) (err: TextWriter) (commands: Command list) (name: string) (argv: string array) : int =
    match commands |> List.tryFind (fun c -> c.Name = name) with
    | None ->
        let names = commands |> List.map _.Name |> String.concat ", "
        err.WriteLine $"unknown command '{name}' (known: {names})"
        2
    | Some c ->
        match guardedWith out err c.Usage c.Main argv with
        | Ok code
        | Error code -> code

/// `runWith` on the console.
let run (commands: Command list) (name: string) (argv: string array) : int =
    runWith Console.Out Console.Error commands name argv
