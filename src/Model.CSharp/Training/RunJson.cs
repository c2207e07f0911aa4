using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Research.Model.Training;

/// <summary>The JSON settings of run folders: indented, enums as names, NaN and ±Infinity as strings (plain JSON has no literal for them).</summary>
internal static class RunJson
{
    /// <summary>For values whose property names are the caller's own (resolved configs, final metrics).</summary>
    public static readonly JsonSerializerOptions AsDeclared = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>For the files whose shape this namespace defines (run.json): snake_case names.</summary>
    public static readonly JsonSerializerOptions SnakeCase = new(AsDeclared) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
