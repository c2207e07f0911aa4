// A full-page PNG of a local HTML page taken by headless Chromium, offline, once its plots are drawn: e.g. the main
// job's index page for the README (docs/images/index.png):
//
//   dotnet fsi scripts/screenshot.fsx -- --page paper-tables/index.html --out docs/images/index.png
//
// usage: dotnet fsi scripts/screenshot.fsx -- --page PAGE.html --out PNG [--width 1280]
// help: dotnet fsi scripts/screenshot.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "screenshot" (Research.scriptArgs ()))
