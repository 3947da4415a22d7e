// The widget's styles, applied inside its shadow root only. `.root` resets every
// inherited property (`all: initial`), so the page's fonts and colors never leak in;
// the page's selectors cannot reach inside the shadow root at all.
export const CSS = `
.root{all:initial;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a}
.root *{box-sizing:border-box}
button,textarea{font:inherit;color:inherit}
button{cursor:pointer}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;border:0;border-radius:50%;background:#2f5bea;color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.3);display:flex;align-items:center;justify-content:center;padding:0}
.launcher svg{width:28px;height:28px;fill:#fff}
.panel{position:fixed;right:20px;bottom:88px;z-index:2147483000;width:370px;max-width:calc(100vw - 40px);height:540px;max-height:calc(100vh - 108px);background:#fff;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden}
.panel[hidden]{display:none}
header{display:flex;align-items:center;justify-content:space-between;padding:12px 14px;background:#2f5bea;color:#fff}
h2{margin:0;font-weight:600;font-size:16px}
.close{background:transparent;border:0;color:#fff;font-size:24px;line-height:1;width:36px;height:36px;border-radius:8px}
.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f4f6fb}
.empty{margin:auto;color:#5c6270;text-align:center}
.msg{max-width:85%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.visitor{align-self:flex-end;background:#2f5bea;color:#fff;border-bottom-right-radius:4px}
.bot{align-self:flex-start;background:#fff;border:1px solid #dde1ea;border-bottom-left-radius:4px}
.agent{align-self:flex-start;background:#eaf6ee;border:1px solid #93caa3;border-bottom-left-radius:4px}
.who{display:block;font-size:12px;font-weight:700;color:#1b5e31;margin-bottom:2px}
.sep{align-self:center;margin:4px 0;font-size:12px;color:#5c6270}
.pending{opacity:.7}
.failed{background:#fff0f0;color:#8a1020;border:1px solid #e9a3ab}
.note{display:block;font-size:12px;margin-top:4px}
.retry{margin-top:6px;border:1px solid currentColor;background:#fff;border-radius:6px;padding:3px 10px}
.status{margin:0;padding:0 12px;font-size:13px;color:#8a1020}
.status:empty{display:none}
form{display:flex;gap:8px;padding:10px;border-top:1px solid #dde1ea;background:#fff}
textarea{flex:1;resize:none;min-height:42px;max-height:120px;padding:9px 10px;border:1px solid #b9c0cf;border-radius:10px;background:#fff}
.send{border:0;border-radius:10px;padding:0 16px;background:#2f5bea;color:#fff;font-weight:600}
@media (max-width:480px){
.panel{inset:0;width:auto;max-width:none;height:auto;max-height:none;border-radius:0}
.open .launcher{display:none}
textarea{font-size:16px}
}
@media (prefers-reduced-motion:no-preference){.panel{transition:opacity .15s}}
`;
