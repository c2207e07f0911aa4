/// Command-line helpers shared by the entry points: flags of the form --name value, and usage errors.
module Research.Experiments.Cli

open System

/// A usage error: the entry point prints it with its usage line and exits with 2.
exception UsageError of string

/// Flags given as --name value pairs; a flag without a value is an error. A flag may repeat (e.g. --set).
type Flags =
    {
        /// The last value of each flag.
        Values: Map<string, string>
        /// Every value of each flag, in order.
        All: Map<string, string list>
    }

    /// Every value given for --name, in order (empty when absent).
    member this.Every(name: string) =
        this.All |> Map.tryFind name |> Option.defaultValue []

    /// The value of --name, or the default.
    member this.Get(name: string, fallback: string) =
        this.Values |> Map.tryFind name |> Option.defaultValue fallback

    /// The integer value of --name, or the default.
    member this.Int(name: string, fallback: int) =
        match this.Values |> Map.tryFind name with
        | None -> fallback
        | Some v ->
            match Int32.TryParse v with
            | true, n -> n
            | _ -> raise (UsageError $"--{name} expects an integer, got '{v}'")

/// Parses --name value pairs, accepting only the names given.
let parse (known: string list) (argv: string array) : Flags =
    let rec go acc =
        function
        | [] -> acc
        | (flag: string) :: rest when flag.StartsWith "--" ->
            let name = flag.Substring 2

            if not (List.contains name known) then
                let names = known |> List.map (fun k -> "--" + k) |> String.concat ", "
                raise (UsageError $"unknown flag {flag}; known: {names}")

            match rest with
            | value :: rest' when not (value.StartsWith "--") -> go ((name, value) :: acc) rest'
            | _ -> raise (UsageError $"{flag} needs a value")
        | other :: _ -> raise (UsageError $"unexpected argument '{other}'")

    let pairs = go [] (List.ofArray argv) |> List.rev

    {
        Values = pairs |> Map.ofList
        All =
            pairs
            |> List.groupBy fst
            |> List.map (fun (k, vs) -> k, List.map snd vs)
            |> Map.ofList
    }

/// Whether the arguments ask for help (after `--`, since dotnet fsi keeps --help for itself).
let wantsHelp (argv: string array) =
    argv |> Array.exists (fun a -> a = "--help" || a = "-h")
