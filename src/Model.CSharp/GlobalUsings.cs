// The base-library namespaces nearly every file of this project uses, imported once (as the SDK's ImplicitUsings
// would, without its System.Net.Http and System.Threading.*); every other namespace is imported where it is used.
global using System;
global using System.Collections.Generic;
global using System.IO;
global using System.Linq;
