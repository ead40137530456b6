window.onerror=function(msg,src,line){
  var b=document.getElementById('js-errors');
  if(b){b.textContent+='JS-ERROR: '+msg+' (line '+line+')\n';b.style.display='block';}
  document.documentElement.setAttribute('data-js-errors','1');
};
