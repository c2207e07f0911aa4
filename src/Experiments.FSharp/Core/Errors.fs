/// The error the science raises for a setting it cannot use. The science knows no command line: the commands
/// (src/Commands.FSharp) show this error with the command's usage and exit with 2, as they do for a bad flag.
module Research.Experiments.Errors

/// A setting has a value the experiment cannot use (an unknown preset, a malformed override, an unknown
/// modality); the message names the setting by its command-line flag, the value given and what was expected.
exception InvalidSetting of string

/// Raises InvalidSetting with the message.
let invalidSetting (message: string) : 'T = raise (InvalidSetting message)
