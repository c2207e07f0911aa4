/// `scripts/screenshot.fsx`: a full-page PNG of a local HTML page (the main job's index page for the README).
module Research.Commands.Screenshot

open System.IO
open Research.Experiments
open Research.Commands.Cli

/// What `screenshot` accepts.
let usage =
    {
        Script = "scripts/screenshot.fsx"
        Synopsis = "--page PAGE.html --out PNG [flags]"
        Summary = "A full-page PNG of a local HTML page by headless Chromium, offline, once its plots are drawn."
        Flags =
            [
                flag "page" "PAGE.html" "required" "the page, e.g. paper-tables/index.html"
                flag "out" "PNG" "required" "the image, written atomically"
                flag "width" "PIXELS" "1280" "CSS pixels (the index page's 1200-pixel column with a margin); at least 200"
            ]
        Examples =
            [
                "dotnet fsi scripts/screenshot.fsx -- --page paper-tables/index.html --out docs/images/index.png"
            ]
        Notes =
            [
                "Needs Debian's chromium; exit code 1 with a notice when it is not installed."
            ]
    }

/// Entry point: takes the screenshot; exit code 1 when chromium is not installed.
let main (argv: string array) : int =
    let f = parseUsage usage argv
    let width = f.Int("width", 1280)

    if width < 200 then
        raise (UsageError $"--width: at least 200 pixels, got {width}")

    let out = f.Required "out"

    if Screenshot.page width (f.Required "page") out then
        printfn "screenshot: %s (%d bytes)" (Path.GetFullPath out) (FileInfo(out).Length)
        0
    else
        1
