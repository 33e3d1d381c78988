//! Issue 12, "help that teaches": every command has examples that parse, every argument
//! has a line of help, the connection flags are shown once, completion offers fixed
//! values, and `man` writes one page per command while staying hidden.

use clap::FromArgMatches;
use eventflow::cli::Cli;
use eventflow::cli::ayuda::{Destino, EJEMPLOS, comando};

use crate::helpers::Entorno;
use crate::idioma::rutas;

fn buscar<'a>(raiz: &'a clap::Command, ruta: &[String]) -> &'a clap::Command {
    ruta.iter().fold(raiz, |c, n| {
        c.find_subcommand(n)
            .unwrap_or_else(|| panic!("no existe {ruta:?}"))
    })
}

#[test]
fn cada_comando_y_cada_argumento_tienen_ayuda() {
    let raiz = comando(Destino::Ayuda);
    for ruta in rutas() {
        let cmd = buscar(&raiz, &ruta);
        assert!(cmd.get_about().is_some(), "{ruta:?} no tiene descripción");
        let despues = cmd
            .get_after_help()
            .map(|a| a.to_string())
            .unwrap_or_default();
        assert!(despues.contains(EJEMPLOS), "{ruta:?} no tiene ejemplos");
        for a in cmd.get_arguments() {
            let ayuda = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                !ayuda.trim().is_empty() && !ayuda.trim().starts_with('['),
                "{ruta:?}: {} no tiene ayuda",
                a.get_id()
            );
        }
    }
}

/// The command lines in a help's examples: lines that start with `eventflow` or hold it
/// after `$(` or `<(`, cut at a pipe or a redirection, with `$VARIABLE`s as ids.
fn ejemplos(texto: &str) -> Vec<Vec<String>> {
    texto
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let inicio = if l.starts_with("eventflow ") {
                0
            } else {
                l.find("(eventflow ")? + 1
            };
            let linea = &l[inicio..];
            let fin = linea.find(['|', '>', ')', '&']).unwrap_or(linea.len());
            Some(palabras(&linea[..fin]))
        })
        .collect()
}

/// Splits like a shell: spaces separate, double quotes group, `$X` becomes an id.
fn palabras(linea: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut actual = String::new();
    let mut comillas = false;
    let mut hay = false;
    for c in linea.chars() {
        match c {
            '"' => {
                comillas = !comillas;
                hay = true;
            }
            ' ' if !comillas => {
                if hay {
                    v.push(std::mem::take(&mut actual));
                }
                hay = false;
            }
            _ => {
                actual.push(c);
                hay = true;
            }
        }
    }
    if hay {
        v.push(actual);
    }
    v.into_iter()
        .map(|p| {
            if p.starts_with('$') {
                "65f1c2a4e1b2c3d4e5f6a7b8".to_owned()
            } else {
                p
            }
        })
        .collect()
}

#[test]
fn los_ejemplos_de_cada_comando_son_ordenes_validas_de_ese_comando() {
    let raiz = comando(Destino::Ayuda);
    for ruta in rutas() {
        let cmd = buscar(&raiz, &ruta);
        let despues = cmd.get_after_help().unwrap().to_string();
        let lineas = ejemplos(&despues);
        assert!(
            !lineas.is_empty(),
            "{ruta:?}: ejemplos sin órdenes:\n{despues}"
        );
        for args in lineas {
            let m = raiz
                .clone()
                .try_get_matches_from(&args)
                .unwrap_or_else(|e| panic!("{ruta:?}: el ejemplo {args:?} no vale: {e}"));
            Cli::from_arg_matches(&m).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let mut camino = Vec::new();
            let mut nivel = &m;
            while let Some((n, sub)) = nivel.subcommand() {
                camino.push(n.to_owned());
                nivel = sub;
            }
            assert!(
                camino.starts_with(&ruta),
                "{ruta:?}: el ejemplo {args:?} es de otro comando"
            );
        }
    }
}

#[test]
fn las_opciones_de_conexion_se_muestran_una_vez_en_la_ayuda_general() {
    let env = Entorno::embedded();
    let general = env.cmd_std().arg("--help").output().unwrap();
    let general = String::from_utf8(general.stdout).unwrap();
    for f in [
        "--backend",
        "--mongo-uri",
        "--redis-url",
        "--data-dir",
        "--config",
    ] {
        assert!(general.contains(&format!("{f} <")), "{f}:\n{general}");
    }
    let sub = env
        .cmd_std()
        .args(["reservas", "listar", "--help"])
        .output()
        .unwrap();
    let sub = String::from_utf8(sub.stdout).unwrap();
    assert!(!sub.contains("--mongo-uri <"), "{sub}");
    assert!(
        sub.contains("Opciones globales de conexión (--backend, --mongo-uri"),
        "{sub}"
    );
    assert!(sub.contains("vea `eventflow --help`"), "{sub}");
    // Hidden from help, they still work after the subcommand.
    let datos = env.dir.path().join("otro");
    env.cmd()
        .args(["usuarios", "listar", "--data-dir"])
        .arg(&datos)
        .assert()
        .success();
    assert!(datos.exists());
}

#[test]
fn completions_explica_como_instalarse_y_completa_los_valores_fijos() {
    let env = Entorno::embedded();
    let ayuda = env
        .cmd_std()
        .args(["completions", "--help"])
        .output()
        .unwrap();
    let ayuda = String::from_utf8(ayuda.stdout).unwrap();
    assert!(
        ayuda.contains("source <(eventflow completions bash)"),
        "{ayuda}"
    );
    assert!(ayuda.contains("eventflow completions zsh >"), "{ayuda}");
    assert!(ayuda.contains("eventflow completions fish >"), "{ayuda}");

    let s = env
        .cmd_std()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(s.status.success());
    let guion = String::from_utf8(s.stdout).unwrap();
    for valores in [
        "pendiente confirmada cancelada compensada expirada",
        "insertar upsert",
        "csv jsonl json",
        "mongo embedded",
        "eventos:leer eventos:escribir usuarios:leer",
        "bash elvish fish powershell zsh",
    ] {
        assert!(
            guion.contains(valores),
            "sin {valores:?} en el guion de bash"
        );
    }
    assert!(
        !guion.contains("eventflow__man"),
        "man aparece en el autocompletado"
    );
    assert!(
        guion.contains("--data-dir"),
        "las opciones de conexión se completan"
    );
}

#[test]
fn man_escribe_una_pagina_por_comando_y_esta_oculto() {
    let env = Entorno::embedded();
    let dir = env.dir.path().join("man1");
    env.cmd().arg("man").arg(&dir).assert().success();
    let visibles: Vec<Vec<String>> = rutas()
        .into_iter()
        .filter(|r| r.first().map(String::as_str) != Some("man"))
        .collect();
    let mut escritas: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    escritas.sort();
    assert_eq!(escritas.len(), visibles.len(), "{escritas:?}");
    for r in &visibles {
        let nombre = std::iter::once("eventflow")
            .chain(r.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-");
        let pagina = std::fs::read_to_string(dir.join(format!("{nombre}.1"))).unwrap();
        assert!(
            pagina.contains(".SH NOMBRE") && pagina.contains(".SH EJEMPLOS"),
            "{nombre}"
        );
        assert!(
            !pagina.contains(".SH NAME") && !pagina.contains("[default"),
            "{nombre}"
        );
    }
    let ayuda = env.cmd_std().arg("--help").output().unwrap();
    let ayuda = String::from_utf8(ayuda.stdout).unwrap();
    assert!(
        !ayuda.lines().any(|l| l.trim_start().starts_with("man ")),
        "{ayuda}"
    );
}
